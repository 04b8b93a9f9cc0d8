package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/nfssink"
	"github.com/esxsink/esxsink/orchestrator"
)

// collectFlags are collect's flags, checked before anything is opened.
type collectFlags struct {
	logger  *slog.Logger
	caseDir string
	piece   int64
	dryRun  bool
	// hostHashes are the hashes the host computes as it reads.
	hostHashes []esxi.HashAlg
	// viaServe: the case is held by a running serve (--sink).
	viaServe bool
}

func parseCollectFlags(c *cli.Context) (*collectFlags, error) {
	logger, err := newLogger(c.String("log-level"), c.App.ErrWriter)
	if err != nil {
		return nil, usageError(err)
	}
	f := &collectFlags{logger: logger, caseDir: c.String("case"), dryRun: c.Bool("dry-run"), viaServe: c.String("sink") != ""}
	fleetScope := c.String("vcenter") != "" && (len(c.StringSlice("cluster")) > 0 || len(c.StringSlice("esx-host")) > 0)
	if len(vmArgs(c)) == 0 && !c.Bool("all") && !c.Bool("unregistered") && len(c.StringSlice("usb")) == 0 && !c.Bool("host-artifacts") && !fleetScope {
		return nil, usageError(errors.New("choose what to collect: --vm NAME|VMID (repeatable), --all, --unregistered, --usb DEVICE or --host-artifacts (with --vcenter also --cluster or --esx-host)"))
	}
	if c.Int("parallel") < 1 {
		return nil, usageError(fmt.Errorf("--parallel %d: copy at least one file at a time", c.Int("parallel")))
	}
	if f.piece, err = parseSize(c.String("piece")); err != nil || f.piece <= 0 {
		return nil, usageError(fmt.Errorf("--piece %q: want a size such as 16MiB or 1GiB", c.String("piece")))
	}
	if t := c.String("transport"); t != orchestrator.TransportNFS && t != orchestrator.TransportSFTP {
		return nil, usageError(fmt.Errorf("--transport %q: choose nfs or sftp", t))
	}
	if v := c.String("verify"); v != "single" && v != "two-pass" {
		return nil, usageError(fmt.Errorf("--verify %q: choose single or two-pass", v))
	}
	if f.hostHashes, err = parseHostHashes(c.String("host-hash"), c.String("verify") == "two-pass"); err != nil {
		return nil, usageError(err)
	}
	if f.viaServe {
		if c.String("transport") == orchestrator.TransportSFTP {
			return nil, usageError(errors.New("--transport sftp writes through the embedded sink: leave out --sink"))
		}
		dir, err := sinkCaseDir(c.String("sink"))
		if err != nil {
			return nil, usageError(err)
		}
		if f.caseDir != "" && !sameDir(f.caseDir, dir) {
			return nil, usageError(fmt.Errorf("--case %s and --sink %s name different cases", f.caseDir, dir))
		}
		f.caseDir = dir
	}
	if f.caseDir == "" && !f.dryRun {
		return nil, usageError(errors.New("--case is required (where the evidence and the custody log go)"))
	}
	return f, nil
}

// interruptible is ctx until the first Ctrl-C (or SIGTERM), which cancels
// the copy so that it cleans up; a second one aborts.
func interruptible(ctx context.Context) (context.Context, func()) {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

// collectCase is the case a collect writes to: its custody log, opened
// here or held by a running serve and written through its control API,
// and the sink the host copies into, which follows from it (that serve,
// or one embedded in this process). A dry run has neither.
type collectCase struct {
	dir string
	// log is nil in a dry run.
	log    orchestrator.Recorder
	close  func()
	remote *remoteSink
	served nfssink.Status // the running serve's, when remote
	// earlier are the datastore tables earlier runs recorded in the
	// case: their datastores keep their folders.
	earlier []custody.Datastore
}

func openCollectCase(ctx context.Context, c *cli.Context, f *collectFlags) (*collectCase, error) {
	cc := &collectCase{dir: f.caseDir, close: func() {}}
	if f.caseDir != "" {
		// Read before the case is opened for appending.
		var err error
		if cc.earlier, err = orchestrator.DatastoresInCase(f.caseDir); err != nil {
			return nil, fmt.Errorf("read the custody log of %s: %w", f.caseDir, err)
		}
	}
	switch {
	case f.dryRun:
	case f.viaServe:
		remote, st, err := connectSink(ctx, f.caseDir)
		if err != nil {
			return nil, err
		}
		cc.log, cc.remote, cc.served = remote, remote, st
		if _, err := remote.Append(custody.TypeSessionOpened, newSession(c, true, caseDetails(c))); err != nil {
			return nil, err
		}
	default:
		log, err := openCase(c, f.caseDir)
		if err != nil {
			return nil, err
		}
		cc.log, cc.close = log, func() { log.Close() }
	}
	return cc, nil
}

// sink returns what the host copies into: the running serve, or an
// embedded sink started on the case for this host alone, with its status
// for the progress display, the export path to mount and a stop that may
// be called more than once.
func (cc *collectCase) sink(ctx context.Context, c *cli.Context, conn *orchestrator.Conn, f *collectFlags, sinkHost string) (orchestrator.Sink, func() nfssink.Status, string, func(), error) {
	if cc.remote != nil {
		st := cc.served
		if !strings.HasSuffix(st.NFS, ":2049") || !strings.HasSuffix(st.Portmap, ":111") {
			fmt.Fprintf(c.App.ErrWriter, "note: the running sink serves NFS on %s and the portmapper on %q; a real ESXi host only finds it on 111 and 2049\n", st.NFS, st.Portmap)
		}
		return cc.remote, cc.remote.Status, st.Export, func() {}, nil
	}
	hostIP, err := remoteIP(conn.Addr())
	if err != nil {
		return nil, nil, "", nil, err
	}
	embedded, err := startEmbeddedSink(ctx, c, cc.dir, sinkHost, []netip.Addr{hostIP}, f.piece, cc.log, f.logger)
	if err != nil {
		return nil, nil, "", nil, err
	}
	return embedded, embedded.Status, c.String("export"), func() { embedded.Close("collect done") }, nil
}

// sinkHost is the address the host mounts the sink from: --sink-address,
// else ours on the SSH connection.
func sinkHost(c *cli.Context, conn *orchestrator.Conn) string {
	if a := c.String("sink-address"); a != "" {
		return a
	}
	if ta, ok := conn.LocalAddr().(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	return ""
}
