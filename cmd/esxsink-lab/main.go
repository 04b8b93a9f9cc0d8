// Command esxsink-lab runs a simulated ESXi host, or a fleet of them with a
// simulated vCenter, for training, demos and tests. It is its own program
// so that the acquisition binary, esxsink, ships no simulator, no shell
// interpreter and no vCenter simulator.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"

	"github.com/esxsink/esxsink/esxsim"
	"github.com/esxsink/esxsink/internal/cliutil"
)

// version is set at build time (-ldflags -X main.version=...).
var version = "dev"

func main() {
	app := &cli.App{
		Name:    "esxsink-lab",
		Version: version,
		Usage:   "run simulated ESXi hosts over SSH, and a simulated vCenter, for training and tests",
		Description: `Starts a simulated ESXi host described by a scenario file (see examples/lab/):
an SSH server with the ESXi shell, vim-cmd, esxcli, esxcfg-nas, vmkfstools and the
busybox applets, datastores with VMs whose disks are generated on read, and NFS
mounts that really connect to an evidence sink (esxsink serve). It prints how to
connect and runs until interrupted (Ctrl-C). Every command typed is recorded, as in
ESXi's /var/log/shell.log.

A scenario with a hosts: list starts every host (each on its own SSH port,
sharing the datastores it says they share) and, with a vcenter: section, a
vCenter (govmomi's vcsim) whose inventory is the scenario's and whose TSM-SSH
service really opens and closes each host's SSH port.

   esxsink-lab --scenario examples/lab/basic.yaml --listen 127.0.0.1:2222
   esxsink-lab --scenario examples/lab/vcenter.yaml --host-key-dir ~/.esxsink/lab`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "scenario", Required: true, Usage: "scenario YAML file (examples/lab/basic.yaml, full.yaml, faults.yaml)"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:0", Usage: "SSH address (port 0 picks a free port); with several hosts, each host with an address: listens there at this port, hosts sharing an address take the next ports"},
			&cli.StringFlag{Name: "user", Usage: "login name (default: the scenario's, root)"},
			&cli.StringFlag{Name: "password", Usage: "login password (default: the scenario's)"},
			&cli.StringFlag{Name: "host-key", Usage: "SSH host key file, created on first use so the key survives restarts"},
			&cli.StringFlag{Name: "host-key-dir", Usage: "folder of SSH host keys, one per host (HOSTNAME_host_key), created on first use"},
			&cli.StringFlag{Name: "vcenter-listen", Value: "127.0.0.1:0", Usage: "the simulated vCenter's HTTPS address (a scenario with vcenter:)"},
			&cli.StringFlag{Name: "vcenter-cert", Usage: "the vCenter's TLS certificate and key (PEM), created on first use so its thumbprint survives restarts"},
			&cli.StringSliceFlag{Name: "authorized-key", Usage: "public key file allowed to log in (repeatable)"},
			&cli.IntFlag{Name: "nfs-portmap-port", Value: 111, Usage: "port where the simulated host's NFS client asks the sink's portmapper (match esxsink serve --portmap-port)"},
			&cli.StringFlag{Name: "work-dir", Usage: "folder for files the host writes (snapshot deltas); default a temporary folder removed on exit"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "diagnostic log level on stderr: debug, info, warn, error"},
		},
		Action: runLab,
		// Exit codes are decided here: 2 for usage errors, 1 otherwise.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   func(_ *cli.Context, err error, _ bool) error { return usageErr{err} },
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "esxsink-lab:", err)
		var u usageErr
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageErr marks a mistake on the command line (exit 2).
type usageErr struct{ error }

func (u usageErr) Unwrap() error { return u.error }

func usageError(err error) error { return usageErr{err} }

func runLab(c *cli.Context) error {
	logger, err := cliutil.NewLogger(c.String("log-level"), os.Stderr)
	if err != nil {
		return usageError(err)
	}
	fs, err := esxsim.LoadFleet(c.String("scenario"))
	if err != nil {
		return usageError(err)
	}
	var keys []ssh.PublicKey
	for _, f := range c.StringSlice("authorized-key") {
		k, err := esxsim.ReadAuthorizedKeys(f)
		if err != nil {
			return usageError(err)
		}
		keys = append(keys, k...)
	}
	if !fs.Single {
		return runFleet(c, logger, fs, keys)
	}
	hostKey := c.String("host-key")
	if d := c.String("host-key-dir"); d != "" && hostKey == "" {
		hostKey = filepath.Join(d, fs.Hosts[0].Host.Hostname+"_host_key")
	}
	cfg := esxsim.Config{
		Listen: c.String("listen"), User: c.String("user"), Password: c.String("password"),
		HostKeyFile: hostKey, PortmapPort: c.Int("nfs-portmap-port"),
		WorkDir: c.String("work-dir"), Logger: logger, AuthorizedKeys: keys,
	}
	h, err := esxsim.New(fs.Hosts[0], cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := h.Start(ctx); err != nil {
		h.Close()
		return err
	}
	printLab(c.App.Writer, c.String("scenario"), h)
	<-ctx.Done()
	fmt.Fprintf(c.App.Writer, "stopping: %d commands were run on the simulated host\n", len(h.Footprint()))
	return h.Close()
}

// printLab tells the user how to connect.
func printLab(w io.Writer, scenario string, h *esxsim.Host) {
	// Only a scenario that changes them gets the service line, so the
	// banner of every older scenario stays as it was.
	printHost(w, scenario, h, !h.SSH().Running || h.Lockdown() != esxsim.LockdownDisabled)
	fmt.Fprintln(w, "press Ctrl-C to stop")
}

// printHost prints a host's connection details; with service, also its
// SSH service and lockdown mode (a fleet's hosts differ in them).
func printHost(w io.Writer, scenario string, h *esxsim.Host, service bool) {
	host, port, _ := net.SplitHostPort(h.Addr().String())
	v := h.Scenario().Host
	fmt.Fprintf(w, "simulated ESXi host %s (VMware ESXi %s build-%s) from %s\n", h.Hostname(), v.Version, v.Build, scenario)
	fmt.Fprintf(w, "  host:     %s\n  port:     %s\n  user:     %s\n", host, port, h.User())
	if h.Password() != "" {
		fmt.Fprintf(w, "  password: %s\n", h.Password())
	}
	fmt.Fprintf(w, "  host key: %s (%s)\n", h.Fingerprint(), h.HostKey().Type())
	if service {
		st, state := h.SSH(), "stopped"
		if st.Running {
			state = "running"
		}
		fmt.Fprintf(w, "  ssh:      %s (policy %s), lockdown %s\n", state, st.Policy, h.Lockdown())
	}
	fmt.Fprintf(w, "connect with:\n  ssh -p %s %s@%s\n", port, h.User(), host)
}
