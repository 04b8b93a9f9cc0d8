package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/nfssink"
	"github.com/esxsink/esxsink/orchestrator"
	"github.com/urfave/cli/v2"
)

func collectCommand() *cli.Command {
	return &cli.Command{
		Name:  "collect",
		Usage: "acquire VMs from an ESXi host: copy every file through the embedded sink and verify it on both sides",
		Description: `Discovers the host, plans every file of the chosen VMs, mounts the embedded sink on the
host (esxcfg-nas -a), copies each file with dd | tee | md5sum in one pass (running VMs' disks
under a snapshot of ours, removed afterwards), and verifies host hash = sink hash = at-rest hash.
Our snapshot is removed and the mount detached on success, on error and on Ctrl-C.
Exit status 0 only when every planned file verified.

A real ESXi host finds the sink through the portmapper on TCP 111 and NFS on 2049: run as root
or grant cap_net_bind_service.`,
		Flags: append(append(hostFlags(), caseFlags(false)...),
			&cli.StringSliceFlag{Name: "vm", Usage: "VM to collect, by name or vmid (repeatable)"},
			&cli.BoolFlag{Name: "all", Usage: "collect every registered VM"},
			&cli.BoolFlag{Name: "unregistered", Usage: "also collect VMs found on datastores but not registered"},
			&cli.StringSliceFlag{Name: "usb", Usage: "also copy this whole storage device, e.g. a USB disk plugged into the host (mpx.vmhba32:C0:T0:L0; see esxsink inventory) (repeatable)"},
			&cli.BoolFlag{Name: "rdm", Usage: "also copy the LUN behind each raw device mapping (a physical RDM of a running VM is copied live)"},
			&cli.BoolFlag{Name: "resume", Usage: "skip files an earlier collect into this --case verified from the same host (running VMs' logs and config are copied again)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the plan and change nothing on the host"},
			&cli.StringFlag{Name: "sink-address", Usage: "address the host mounts the sink from (default: our address on the SSH connection)"},
			&cli.IntFlag{Name: "nfs-port", Value: 2049, Usage: "TCP port of the embedded sink's NFS server"},
			&cli.IntFlag{Name: "portmap-port", Value: 111, Usage: "port of the embedded sink's portmapper (ESXi asks 111)"},
			&cli.StringFlag{Name: "export", Value: "/esxsink", Usage: "the sink's export path"},
			&cli.StringFlag{Name: "verify", Value: "single", Usage: "single: hash the one read of the copy; two-pass: also hash each source before copying it (twice the reading; catches a source that changes)"},
			&cli.IntFlag{Name: "retries", Value: 2, Usage: "copy a file that does not verify again this many times"},
			&cli.IntFlag{Name: "parallel", Value: 1, Usage: "copy this many files at once (each is its own SSH session and NFS stream; a single datastore disk is rarely faster with more than 2-4)"},
			&cli.BoolFlag{Name: "json", Usage: "print the plan or the report as JSON"},
			&cli.BoolFlag{Name: "json-events", Usage: "print progress as JSON lines on stdout (file.started, progress, file.finished), for programs"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress display"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "diagnostic log level on stderr"},
		),
		Action: runCollect,
	}
}

func runCollect(c *cli.Context) error {
	logger, err := newLogger(c.String("log-level"), c.App.ErrWriter)
	if err != nil {
		return usageError(err)
	}
	if len(c.StringSlice("vm")) == 0 && !c.Bool("all") && !c.Bool("unregistered") && len(c.StringSlice("usb")) == 0 {
		return usageError(errors.New("choose what to collect: --vm NAME|VMID (repeatable), --all, --unregistered or --usb DEVICE"))
	}
	if c.Int("parallel") < 1 {
		return usageError(fmt.Errorf("--parallel %d: copy at least one file at a time", c.Int("parallel")))
	}
	if v := c.String("verify"); v != "single" && v != "two-pass" {
		return usageError(fmt.Errorf("--verify %q: choose single or two-pass", v))
	}
	caseDir := c.String("case")
	if caseDir == "" && !c.Bool("dry-run") {
		return usageError(errors.New("--case is required (where the evidence and the custody log go)"))
	}
	// The first Ctrl-C cancels the copy and cleans up; a second aborts.
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()

	var resume map[string]orchestrator.Verified
	if c.Bool("resume") && caseDir != "" {
		// Read before the case is opened for appending.
		if resume, err = orchestrator.VerifiedInCase(caseDir, ""); err != nil {
			return fmt.Errorf("--resume: read the custody log of %s: %w", caseDir, err)
		}
	}
	var log *hashlog.Log
	if !c.Bool("dry-run") {
		if log, err = openCase(caseDir, c.String("case-id"), c.String("examiner")); err != nil {
			return err
		}
		defer log.Close()
	}
	conn, err := dialHost(ctx, c)
	if err != nil {
		return err
	}
	defer conn.Close()
	var rec orchestrator.Recorder
	outDir := ""
	if log != nil {
		rec = log
		outDir = filepath.Join(caseDir, "host-commands")
		if _, err := log.Append(hashlog.TypeNote, hashlog.Note{Text: fmt.Sprintf("connected to %s as %s, host key %s", conn.Addr(), c.String("user"), conn.HostKeyFingerprint())}); err != nil {
			return err
		}
	}
	r, err := orchestrator.NewRunner(conn, rec, outDir)
	if err != nil {
		return err
	}
	inv, err := orchestrator.Discover(ctx, r, conn.Addr(), logger)
	if err != nil {
		return err
	}
	var vms []*orchestrator.VM
	if len(c.StringSlice("vm")) > 0 || c.Bool("all") || c.Bool("unregistered") {
		if vms, err = orchestrator.SelectVMs(inv, c.StringSlice("vm"), c.Bool("all"), c.Bool("unregistered")); err != nil {
			return usageError(err)
		}
	}
	var devices []esxi.CoreDevice
	for _, id := range c.StringSlice("usb") {
		dev, ok := inv.Device(id)
		if !ok {
			return usageError(fmt.Errorf("no storage device %q on %s: esxsink inventory lists them", id, conn.Addr()))
		}
		devices = append(devices, dev)
	}
	plan := orchestrator.MakePlan(vms, orchestrator.PlanOptions{SinkFree: freeSpace(caseDir), RDM: c.Bool("rdm"), Devices: devices})
	w := c.App.Writer
	if c.Bool("dry-run") {
		if c.Bool("json") {
			return writeJSONTo(w, plan)
		}
		printPlan(w, plan)
		return nil
	}
	if !plan.Fits() {
		return fmt.Errorf("the plan needs %s but %s has %s free: choose fewer VMs or another --case", humanBytes(plan.Bytes), caseDir, humanBytes(plan.SinkFree))
	}

	sinkHost := c.String("sink-address")
	if sinkHost == "" {
		if ta, ok := conn.LocalAddr().(*net.TCPAddr); ok {
			sinkHost = ta.IP.String()
		}
	}
	hostIP, err := remoteIP(conn.Addr())
	if err != nil {
		return err
	}
	if c.Int("nfs-port") != 2049 || c.Int("portmap-port") != 111 {
		fmt.Fprintf(c.App.ErrWriter, "note: the sink is on ports %d/%d; a real ESXi host only finds it on 111 and 2049\n", c.Int("portmap-port"), c.Int("nfs-port"))
	}
	sink, err := nfssink.New(nfssink.Config{
		EvidenceDir: hashlog.EvidenceDir(caseDir), StateDir: stateDir(caseDir), Address: sinkHost,
		NFSPort: c.Int("nfs-port"), Portmap: "builtin", PortmapPort: c.Int("portmap-port"), Export: c.String("export"),
		Allow: []netip.Prefix{netip.PrefixFrom(hostIP, hostIP.BitLen())}, IdleFinalize: -1, Log: log, Logger: logger,
	})
	if err != nil {
		return err
	}
	if err := sink.Start(ctx); err != nil {
		return fmt.Errorf("start the embedded sink on %s: %w", sinkHost, err)
	}
	defer sink.Close("collect done")
	progress, stopProgress := startProgress(ctx, chooseProgress(c.Bool("json-events"), c.Bool("quiet"), c.App.ErrWriter), w, c.App.ErrWriter, plan.Bytes, sink.Status)
	rep, err := orchestrator.Collect(ctx, plan, orchestrator.CollectOptions{
		Runner: r, Log: log, Sink: sink, Host: conn.Addr(), SinkHost: sinkHost, Export: c.String("export"),
		EvidenceDir: hashlog.EvidenceDir(caseDir), Retries: c.Int("retries"), Logger: logger,
		TwoPass:  c.String("verify") == "two-pass",
		Resume:   onlyHost(resume, conn.Addr()),
		Progress: progress,
		Parallel: c.Int("parallel"),
		Redial:   func(ctx context.Context) (*orchestrator.Conn, error) { return dialHost(ctx, c) },
	})
	stopProgress()
	if err != nil && ctx.Err() != nil {
		undone := "our snapshots were removed and the mount detached"
		if rep != nil && len(rep.Cleanup) > 0 {
			undone = "NOT everything was undone, see below; run esxsink cleanup on this host"
		}
		err = fmt.Errorf("interrupted (%w): %s; files verified so far are kept; run the same collect with --resume to go on", err, undone)
	}
	switch {
	case c.Bool("json-events"):
		ev := orchestrator.JSONEvent{Event: "run.finished", Report: rep, Case: caseDir, Time: time.Now().UTC()}
		if err != nil {
			ev.Error = err.Error()
		}
		_ = json.NewEncoder(w).Encode(ev)
	case rep != nil && c.Bool("json"):
		_ = writeJSONTo(w, rep)
	case rep != nil:
		printReport(w, rep)
	}
	if !c.Bool("json-events") {
		fmt.Fprintf(w, "case: %s\n", caseDir)
	}
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	return nil
}

// onlyHost keeps the resumable files verified from host.
func onlyHost(all map[string]orchestrator.Verified, host string) map[string]orchestrator.Verified {
	out := map[string]orchestrator.Verified{}
	for k, v := range all {
		if v.Host == host {
			out[k] = v
		}
	}
	return out
}

func remoteIP(addr string) (netip.Addr, error) {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		h = addr
	}
	ips, err := net.LookupIP(h)
	if err != nil || len(ips) == 0 {
		return netip.Addr{}, fmt.Errorf("resolve the host address %q: %v", h, err)
	}
	ip, _ := netip.AddrFromSlice(ips[0])
	return ip.Unmap(), nil
}

// freeSpace is the free space where dir is (or would be); -1 unknown.
func freeSpace(dir string) int64 {
	if dir == "" {
		return -1
	}
	for d := dir; ; d = filepath.Dir(d) {
		if n, err := nfssink.FreeSpace(d); err == nil {
			return n
		}
		if d == filepath.Dir(d) {
			return -1
		}
	}
}

func printPlan(w io.Writer, p *orchestrator.Plan) {
	for _, it := range p.Items {
		dest := it.Dest
		if it.Method == orchestrator.MethodSkip {
			dest = "(" + it.Note + ")"
		}
		fmt.Fprintf(w, "%-20s %-14s %10s  %s\n    -> %s\n", it.Method, it.Kind, humanBytes(it.Size), it.Source, dest)
	}
	fmt.Fprintf(w, "total: %d files, %s", p.Files, humanBytes(p.Bytes))
	if p.SinkFree >= 0 {
		fit := "fits"
		if !p.Fits() {
			fit = "DOES NOT FIT"
		}
		fmt.Fprintf(w, "; sink free %s (%s)", humanBytes(p.SinkFree), fit)
	}
	fmt.Fprintln(w, "\ndry run: nothing was changed on the host")
}

func printReport(w io.Writer, rep *orchestrator.Report) {
	fmt.Fprintf(w, "%-8s %10s  %-32s  %s\n", "result", "size", "md5", "file")
	for _, f := range rep.Files {
		state := "ok"
		switch {
		case !f.Verified:
			state = "FAILED"
		case f.Resumed:
			state = "resumed"
		}
		fmt.Fprintf(w, "%-8s %10s  %-32s  %s\n", state, humanBytes(f.Size), f.SinkHashes["md5"], f.Dest)
		if f.Error != "" {
			fmt.Fprintf(w, "         %s\n", f.Error)
		}
		for _, e := range f.ReadErrors {
			fmt.Fprintf(w, "         read error, zeros in the image: %s\n", e)
		}
		if f.Item.Live && f.Item.Note != "" {
			fmt.Fprintf(w, "         %s\n", f.Item.Note)
		}
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "%-8s %10s  %-32s  %s (%s)\n", "skipped", humanBytes(s.Size), "", s.Source, s.Note)
	}
	for _, e := range rep.Cleanup {
		fmt.Fprintf(w, "CLEANUP FAILED: %s\n", e)
	}
}

func cleanupCommand() *cli.Command {
	return &cli.Command{
		Name:  "cleanup",
		Usage: "find and undo what an interrupted esxsink collect left on an ESXi host (our snapshots and mounts only)",
		Description: `Lists snapshots named esxsink-RUNID-vmVMID and NFS datastores labelled esxsink-RUNID,
the names collect gives them, removes each snapshot by its id (never removeall) and detaches
each datastore. Nothing else on the host is touched. With --dry-run it only lists them.`,
		Flags: append(append(hostFlags(), caseFlags(false)...),
			&cli.BoolFlag{Name: "resume", Usage: "skip files an earlier collect into this --case verified from the same host (running VMs' logs and config are copied again)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "list the leftovers and change nothing"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "diagnostic log level on stderr"},
		),
		Action: runCleanup,
	}
}

func runCleanup(c *cli.Context) error {
	logger, err := newLogger(c.String("log-level"), c.App.ErrWriter)
	if err != nil {
		return usageError(err)
	}
	ctx := c.Context
	var rec orchestrator.Recorder
	outDir := ""
	if caseDir := c.String("case"); caseDir != "" && !c.Bool("dry-run") {
		log, err := openCase(caseDir, c.String("case-id"), c.String("examiner"))
		if err != nil {
			return err
		}
		defer log.Close()
		rec, outDir = log, filepath.Join(caseDir, "host-commands")
	}
	conn, err := dialHost(ctx, c)
	if err != nil {
		return err
	}
	defer conn.Close()
	r, err := orchestrator.NewRunner(conn, rec, outDir)
	if err != nil {
		return err
	}
	inv, err := orchestrator.Discover(ctx, r, conn.Addr(), logger)
	if err != nil {
		return err
	}
	lefts, err := orchestrator.FindLeftovers(ctx, r, inv)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if len(lefts) == 0 {
		fmt.Fprintln(w, "nothing of ours on the host")
		return nil
	}
	for _, l := range lefts {
		if l.Kind == "snapshot" {
			fmt.Fprintf(w, "snapshot %q (id %d) of VM %q (vmid %d)\n", l.Snapshot, l.SnapID, l.VM, l.VMID)
		} else {
			fmt.Fprintf(w, "datastore %q (%s)\n", l.Label, l.Share)
		}
	}
	if c.Bool("dry-run") {
		fmt.Fprintln(w, "dry run: nothing was changed on the host")
		return nil
	}
	if err := orchestrator.UndoLeftovers(ctx, lefts, orchestrator.CleanupOptions{Runner: r, Log: rec, Host: conn.Addr(), Logger: logger}); err != nil {
		return cli.Exit(err.Error(), 1)
	}
	fmt.Fprintf(w, "undone: %d\n", len(lefts))
	return nil
}
