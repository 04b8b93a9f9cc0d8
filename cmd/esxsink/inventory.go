package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/esxsink/esxsink/orchestrator"
)

func inventoryCommand() *cli.Command {
	return &cli.Command{
		Name:  "inventory",
		Usage: "list what an ESXi host (over SSH) or a vCenter (through the vSphere API) holds",
		Description: `With --host: connects over SSH and runs read-only commands only (vim-cmd, esxcli, find,
stat, head) and lists the host's datastores, VMs (registered and not), disks, snapshots and files.

With --vcenter: reads a vCenter's (or an ESXi host's own) API and lists datacenters, clusters,
hosts (management address, version, connection, lockdown mode, SSH service), datastores (and
which hosts mount them) and VMs (host, power state, files, snapshots). The endpoint's TLS
certificate must be vouched for by --vcenter-thumbprint or --vcenter-ca; an unknown one is
refused and its thumbprint shown.

Nothing is changed either way.`,
		Flags: eitherRequired(append(append(hostFlags(), vcenterFlags()...),
			&cli.BoolFlag{Name: "json", Usage: "print the inventory as JSON"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "diagnostic log level on stderr"},
		), "host", "vcenter"),
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

// eitherRequired marks flags a and b as the two ways to name what a
// command works on: one of them is required, which the command checks
// (urfave/cli knows only flags required on their own).
func eitherRequired(flags []cli.Flag, a, b string) []cli.Flag {
	for _, f := range flags {
		sf, ok := f.(*cli.StringFlag)
		switch {
		case !ok:
		case sf.Name == a:
			sf.Required, sf.Usage = false, "(required unless --"+b+") "+sf.Usage
		case sf.Name == b:
			sf.Required, sf.Usage = false, "(required unless --"+a+") "+sf.Usage
		}
	}
	return flags
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

func runInventory(c *cli.Context) error {
	logger, err := newLogger(c.String("log-level"), c.App.ErrWriter)
	if err != nil {
		return usageError(err)
	}
	switch {
	case c.String("vcenter") != "" && c.String("host") != "":
		return usageError(errors.New("give --host (an ESXi host over SSH) or --vcenter (the vSphere API), not both"))
	case c.String("vcenter") != "":
		return runVCenterInventory(c, logger)
	case c.String("host") == "":
		return usageError(errors.New("say what to list: --host (an ESXi host over SSH) or --vcenter (a vCenter or ESXi host through the vSphere API)"))
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
