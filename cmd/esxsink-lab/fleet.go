package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"

	"github.com/esxsink/esxsink/esxsim"
	"github.com/esxsink/esxsink/esxsim/vcenter"
)

// runFleet serves every host of a fleet scenario and, when it has a
// vcenter: section, the vCenter over them.
func runFleet(c *cli.Context, logger *slog.Logger, fs *esxsim.FleetScenario, keys []ssh.PublicKey) error {
	for _, f := range []string{"host-key", "user", "password"} {
		if c.IsSet(f) {
			return usageError(fmt.Errorf("--%s names one host; a scenario with hosts: sets each host's in the scenario (keys: --host-key-dir)", f))
		}
	}
	host, port, err := splitListen(c.String("listen"))
	if err != nil {
		return usageError(err)
	}
	// vcsim reports through the standard logger; it is diagnostics.
	log.SetOutput(debugWriter{logger})
	log.SetFlags(0)
	fleet, err := esxsim.NewFleet(fs, esxsim.FleetConfig{
		ListenHost: host, Port: port, HostKeyDir: c.String("host-key-dir"), AuthorizedKeys: keys,
		PortmapPort: c.Int("nfs-portmap-port"), WorkDir: c.String("work-dir"), Logger: logger,
	})
	if err != nil {
		return err
	}
	defer fleet.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := fleet.Start(ctx); err != nil {
		return err
	}
	var vc *vcenter.VCenter
	if fs.VCenter != nil {
		vc, err = vcenter.New(fleet, vcenter.Config{Listen: c.String("vcenter-listen"), CertFile: c.String("vcenter-cert"), Logger: logger})
		if err != nil {
			return err
		}
		defer vc.Close()
		if err := vc.Start(ctx); err != nil {
			return err
		}
	}
	printFleet(c.App.Writer, c.String("scenario"), fleet, vc)
	<-ctx.Done()
	var counts []string
	total := 0
	for _, h := range fleet.Hosts() {
		n := len(h.Footprint())
		total += n
		counts = append(counts, fmt.Sprintf("%s %d", h.Hostname(), n))
	}
	fmt.Fprintf(c.App.Writer, "stopping: %d commands were run on the simulated hosts (%s)\n", total, strings.Join(counts, ", "))
	if vc != nil {
		vc.Close()
	}
	return fleet.Close()
}

// printFleet tells the user how to reach the vCenter and every host.
func printFleet(w io.Writer, scenario string, f *esxsim.Fleet, vc *vcenter.VCenter) {
	if vc != nil {
		about := f.Scenario().VCenter
		fmt.Fprintf(w, "simulated vCenter %s (VMware vCenter Server %s build-%s) from %s\n", vc.Hostname(), about.Version, about.Build, scenario)
		fmt.Fprintf(w, "  vcenter:    %s\n  user:       %s\n  password:   %s\n  thumbprint: %s\n", vc.URL(), vc.User(), vc.Password(), vc.Thumbprint())
	}
	for _, h := range f.Hosts() {
		printHost(w, scenario, h, true)
	}
	fmt.Fprintln(w, "press Ctrl-C to stop")
}

// splitListen splits --listen into the address hosts without one of their
// own listen on and the port.
func splitListen(listen string) (string, int, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("--listen %q: %w", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, errors.New("--listen: the port is a number from 0 to 65535")
	}
	return host, port, nil
}

// debugWriter passes the standard logger's lines to slog at debug level.
type debugWriter struct{ l *slog.Logger }

func (d debugWriter) Write(p []byte) (int, error) {
	d.l.Debug(strings.TrimRight(string(p), "\n"), "from", "vcsim")
	return len(p), nil
}
