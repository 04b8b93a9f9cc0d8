package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/esxsink/esxsink/orchestrator"
)

func inventoryCommand() *cli.Command {
	return &cli.Command{
		Name:  "inventory",
		Usage: "list what an ESXi host holds: datastores, VMs (registered and not), disks, snapshots, files",
		Description: `Connects over SSH and runs read-only commands only (vim-cmd, esxcli, find, stat, head).
Nothing on the host is changed.`,
		Flags: append(hostFlags(),
			&cli.BoolFlag{Name: "json", Usage: "print the inventory as JSON"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "diagnostic log level on stderr"},
		),
		Action: runInventory,
	}
}

// hostFlags are the flags that say how to reach an ESXi host.
func hostFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "host", Required: true, Usage: "ESXi host, HOST or HOST:PORT"},
		&cli.StringFlag{Name: "user", Value: "root", Usage: "SSH user"},
		&cli.StringFlag{Name: "password-file", Usage: "read the password from this file (else $ESXSINK_PASSWORD, else a prompt)"},
		&cli.StringSliceFlag{Name: "key", Usage: "SSH private key file (repeatable)"},
		&cli.BoolFlag{Name: "agent", Usage: "use the ssh-agent at $SSH_AUTH_SOCK"},
		&cli.StringFlag{Name: "known-hosts", Usage: "OpenSSH known_hosts file that vouches for the host key"},
		&cli.StringFlag{Name: "host-key", Usage: "the host key's fingerprint, SHA256:..."},
		&cli.DurationFlag{Name: "connect-timeout", Value: 20 * time.Second, Usage: "bound on connecting and logging in"},
	}
}

// dialHost connects to the host the flags name.
func dialHost(ctx context.Context, c *cli.Context) (*orchestrator.Conn, error) {
	opts := orchestrator.SSHOptions{
		Addr: c.String("host"), User: c.String("user"), KeyFiles: c.StringSlice("key"), Agent: c.Bool("agent"),
		ConnectTimeout: c.Duration("connect-timeout"), Password: passwordFunc(c.String("password-file"), c.App.ErrWriter),
	}
	var err error
	switch {
	case c.String("host-key") != "":
		opts.HostKey, err = orchestrator.PinnedHostKey(c.String("host-key"))
	case c.String("known-hosts") != "":
		opts.HostKey, err = orchestrator.KnownHosts(c.String("known-hosts"))
	default:
		return nil, usageError(errors.New("say which host key to trust: --known-hosts FILE or --host-key SHA256:... (connect once with ssh to see it)"))
	}
	if err != nil {
		return nil, usageError(err)
	}
	conn, err := orchestrator.DialSSH(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", opts.Addr, err)
	}
	return conn, nil
}

// passwordFunc answers password prompts from a file, $ESXSINK_PASSWORD or
// the terminal (no echo), in that order.
func passwordFunc(file string, w io.Writer) orchestrator.PasswordFunc {
	return func(ctx context.Context, user, host, prompt string) (string, error) {
		if file != "" {
			b, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("read --password-file: %w", err)
			}
			return strings.TrimRight(string(b), "\r\n"), nil
		}
		if p, ok := os.LookupEnv("ESXSINK_PASSWORD"); ok {
			return p, nil
		}
		if !term.IsTerminal(int(os.Stdin.Fd())) {
			return "", errors.New("no password: give --password-file or set ESXSINK_PASSWORD")
		}
		fmt.Fprintf(w, "Password for %s@%s: ", user, host)
		b, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(w)
		return string(b), err
	}
}

func runInventory(c *cli.Context) error {
	logger, err := newLogger(c.String("log-level"), c.App.ErrWriter)
	if err != nil {
		return usageError(err)
	}
	ctx := c.Context
	conn, err := dialHost(ctx, c)
	if err != nil {
		return err
	}
	defer conn.Close()
	r, err := orchestrator.NewRunner(conn, nil, "")
	if err != nil {
		return err
	}
	inv, err := orchestrator.Discover(ctx, r, conn.Addr(), logger)
	if inv == nil {
		return err
	}
	// With a DiscoveryError the inventory so far is still shown: it is
	// what an examiner compares the unplaced VMs against.
	if c.Bool("json") {
		return errors.Join(writeJSONTo(c.App.Writer, inv), err)
	}
	printInventory(c.App.Writer, inv)
	return err
}

// printInventory prints the inventory as a tree.
func printInventory(w io.Writer, inv *orchestrator.Inventory) {
	fmt.Fprintf(w, "%s  %s %s build %d  (%s)\n", inv.Host.Hostname, inv.Host.Version.Product, inv.Host.Version.Version, inv.Host.Version.Build, inv.Host.Addr)
	fmt.Fprintln(w, "datastores:")
	var rows [][]string
	for _, ds := range inv.Datastores {
		rows = append(rows, []string{fmt.Sprintf("%q", ds.VolumeName), ds.Type, humanBytes(ds.Free), "free of " + humanBytes(ds.Size)})
	}
	printColumns(w, "  ", []bool{false, false, true}, rows)
	for _, m := range inv.NFS {
		fmt.Fprintf(w, "  NFS %q  %s:%s  %s\n", m.Label, m.Host, m.Share, m.Status)
	}
	if len(inv.Devices) > 0 {
		fmt.Fprintln(w, "storage devices:")
	}
	rows = nil
	for _, d := range inv.Devices {
		kind := "local"
		switch {
		case d.IsUSB != nil && *d.IsUSB:
			kind = "USB"
		case !d.IsLocal:
			kind = "LUN"
		}
		rows = append(rows, []string{kind, humanBytes(d.SizeMB << 20), d.Device, strings.TrimSpace(d.Vendor + " " + d.Model)})
	}
	printColumns(w, "  ", []bool{false, true}, rows)
	for _, u := range inv.USB {
		if !u.IsRootHub() {
			fmt.Fprintf(w, "  usb bus %d device %d  %04x:%04x  %s\n", u.Bus, u.Device, u.VendorID, u.ProductID, u.Description)
		}
	}
	fmt.Fprintln(w, "VMs:")
	for _, vm := range inv.VMs {
		id := "unregistered"
		if vm.Registered {
			id = fmt.Sprintf("vmid %d", vm.ID)
		}
		power := string(vm.Power)
		if power == "" {
			power = "-"
		}
		fmt.Fprintf(w, "  %q  (%s, %s)\n    %s\n", vm.Name, id, power, vm.VMX)
		for _, d := range vm.Disks {
			extra := d.CreateType
			if d.Independent {
				extra += ", " + d.Mode
			}
			if d.RDM != nil {
				kind := "virtual RDM"
				if d.RDM.Passthrough {
					kind = "physical RDM"
				}
				extra += ", " + kind + " /vmfs/devices/disks/" + d.RDM.Device
			}
			fmt.Fprintf(w, "    disk %s  %s  (%s)\n", d.Node, d.Descriptor, extra)
			if d.Parent != "" {
				fmt.Fprintf(w, "      parent %s\n", d.Parent)
			}
		}
		if vm.Snapshots != nil {
			for _, s := range vm.Snapshots.All() {
				fmt.Fprintf(w, "    %ssnapshot %d %q %s\n", strings.Repeat("  ", s.Depth), s.ID, s.Name, snapshotTime(s))
			}
		}
		rows = nil
		for _, f := range vm.Files {
			rows = append(rows, []string{humanBytes(f.Size), f.Name})
		}
		printColumns(w, "    ", []bool{true}, rows)
		for _, warn := range vm.Warnings {
			fmt.Fprintf(w, "    warning: %s\n", warn)
		}
	}
	if len(inv.Unplaced) > 0 {
		fmt.Fprintln(w, "registered VMs found but not collectable:")
	}
	for _, u := range inv.Unplaced {
		fmt.Fprintf(w, "  vmid %d %q  %s\n    %s\n", u.ID, u.Name, u.VMX, u.Reason)
	}
	for _, warn := range inv.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}
