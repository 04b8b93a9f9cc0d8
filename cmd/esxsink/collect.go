package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/esxsink/esxsink/custody"

	"github.com/urfave/cli/v2"

	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/nfssink"
	"github.com/esxsink/esxsink/orchestrator"
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
or grant cap_net_bind_service.

With --vcenter instead of --host: VMs are chosen through the vSphere API (--all, --vm, --cluster,
--esx-host) and grouped by the host that runs them; each host is collected over SSH at its
management address as above, into one case through one embedded sink that only those hosts may
mount. A file on a datastore several hosts share is copied once. A host in lockdown mode is
refused and left as it is; a host whose SSH service (TSM-SSH) is stopped is refused unless
--enable-ssh, which starts it for the run and restores its state and policy afterwards, also on
error and Ctrl-C. New SSH host keys need --known-hosts or --accept-new-host-keys (recorded).
Refused hosts' VMs are recorded as not collected: the case is then incomplete (exit 1; verify 3).
With --vcenter --host-artifacts, each collected host is triaged into its own
evidence/host-artifacts/<host> folder, and the vCenter-side evidence of those hosts (see
esxsink triage --vcenter) is kept once, under CASE/vcenter, before any host is changed.`,
		Flags: append(append(append(eitherRequired(append(hostFlags(), vcenterFlags()...), "host", "vcenter"), caseFlags(false)...), fleetFlags()...),
			&cli.GenericFlag{Name: "vm", Value: &verbatimList{}, Usage: "VM to collect, by vmid, exact name (blanks included) or .vmx path (repeatable); a number that is a vmid selects that VM"},
			&cli.BoolFlag{Name: "all", Usage: "collect every registered VM"},
			&cli.BoolFlag{Name: "unregistered", Usage: "also collect VMs found on datastores but not registered"},
			&cli.StringSliceFlag{Name: "usb", Usage: "also copy this whole storage device, e.g. a USB disk plugged into the host (mpx.vmhba32:C0:T0:L0; see esxsink inventory) (repeatable)"},
			&cli.BoolFlag{Name: "host-artifacts", Usage: "also triage the host itself: its logs, /etc (local.sh, ssh, passwd, shadow), root's crontab and shell history copied like VM files, and the outputs of esxcli/vim-cmd/ps commands kept and hashed (see esxsink triage)"},
			&cli.BoolFlag{Name: "memory", Usage: "also collect running VMs' RAM: our snapshot saves memory, and its .vmem and .vmsn are copied before it is removed (the VM pauses briefly while its memory is written)"},
			&cli.BoolFlag{Name: "rdm", Usage: "also copy the LUN behind each raw device mapping (a physical RDM of a running VM is copied live)"},
			&cli.BoolFlag{Name: "independent", Usage: "also copy the independent disks of running VMs, live (a snapshot does not freeze them: the copy is what was read, marked copied live)"},
			&cli.BoolFlag{Name: "resume", Usage: "skip files an earlier collect into this --case verified from the same host (running VMs' logs and config are copied again)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the plan and change nothing on the host"},
			&cli.StringFlag{Name: "sink", Usage: "use the running esxsink serve on this case folder (or unix://CASE/.esxsink/control.sock) instead of an embedded sink; --case may be left out"},
			&cli.StringFlag{Name: "sink-address", Usage: "address the host mounts the sink from (default: our address on the SSH connection)"},
			&cli.StringFlag{Name: "transport", Value: "nfs", Usage: "nfs: the host mounts the embedded sink and dd copies into it; sftp: read each file over SFTP on the SSH connection, with no mount and no NFS port bound (for hosts that may not mount NFS, or a workstation that cannot bind 111/2049; unreadable sectors fail the file instead of being zero-filled)"},
			&cli.IntFlag{Name: "nfs-port", Value: 2049, Usage: "TCP port of the embedded sink's NFS server"},
			&cli.IntFlag{Name: "portmap-port", Value: 111, Usage: "port of the embedded sink's portmapper (ESXi asks 111)"},
			&cli.StringFlag{Name: "export", Value: "/esxsink", Usage: "the sink's export path"},
			&cli.StringFlag{Name: "verify", Value: "single", Usage: "single: hash the one read of the copy; two-pass: also hash each source before copying it (twice the reading; catches a source that changes)"},
			&cli.StringFlag{Name: "host-hash", Value: "md5,sha256", Usage: "hashes the host computes as it reads each file: md5,sha256; md5 alone (as in the manual procedure) copies faster from a real host, whose CPU is the slow part; the sink computes and checks its own hashes regardless"},
			&cli.IntFlag{Name: "retries", Value: 2, Usage: "copy a file that does not verify again this many times"},
			&cli.StringFlag{Name: "piece", Value: "256MiB", Usage: "piecewise hash window of the embedded sink, which locates damage found later by esxsink verify (e.g. 16MiB, 1GiB)"},
			&cli.IntFlag{Name: "parallel", Value: 1, Usage: "copy this many files at once (each is its own SSH session and NFS stream)"},
			&cli.BoolFlag{Name: "json", Usage: "print the plan or the report as JSON"},
			&cli.BoolFlag{Name: "json-events", Usage: "print progress as JSON lines on stdout (file.started, progress, file.finished), for programs"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress display"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "diagnostic log level on stderr"},
		),
		Action: runCollect,
	}
}

func runCollect(c *cli.Context) (err error) {
	f, err := parseCollectFlags(c)
	if err != nil {
		return err
	}
	switch {
	case c.String("vcenter") != "" && c.String("host") != "":
		return usageError(errors.New("give --host (one ESXi host over SSH) or --vcenter (hosts found through the vSphere API), not both"))
	case c.String("vcenter") != "":
		return runVCenterCollect(c, f)
	case c.String("host") == "":
		return usageError(errors.New("say where to collect from: --host (an ESXi host over SSH) or --vcenter (the hosts a vCenter manages)"))
	}
	for _, flag := range []string{"enable-ssh", "cluster", "esx-host", "parallel-hosts", "accept-new-host-keys", "ssh-port", "since"} {
		if c.IsSet(flag) {
			return usageError(fmt.Errorf("--%s goes with --vcenter", flag))
		}
	}
	ctx, stop := interruptible(c.Context)
	defer stop()
	var resume map[string]map[string]orchestrator.Verified
	if c.Bool("resume") && f.caseDir != "" {
		// Read before the case is opened for appending.
		if resume, err = orchestrator.VerifiedByHost(f.caseDir); err != nil {
			return fmt.Errorf("--resume: read the custody log of %s: %w", f.caseDir, err)
		}
	}
	cc, err := openCollectCase(ctx, c, f)
	if err != nil {
		return err
	}
	defer cc.close()
	runID := orchestrator.NewRunID()
	collectStarted := false
	if cc.log != nil {
		// Every run that opened the case says how it ended, also when it
		// failed before copying (a refused login, a port in use, an
		// unknown --vm): collect's own records cover the rest.
		defer func() {
			if err != nil && !collectStarted {
				_, _ = cc.log.Append(custody.TypeRunFailed, custody.Step{Host: c.String("host"), RunID: runID, Error: err.Error()})
			}
		}()
	}
	conn, err := dialHost(ctx, c)
	if err != nil {
		return err
	}
	defer conn.Close()
	session, plan, tri, notCollected, err := planCollect(ctx, c, f, cc, conn, runID)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if f.dryRun {
		return dryRun(c, plan, notCollected)
	}
	if !plan.Fits() {
		return fmt.Errorf("the plan needs %s but %s has %s free: choose fewer VMs or another --case", humanBytes(plan.Bytes), f.caseDir, humanBytes(plan.SinkFree))
	}
	host := sinkHost(c, conn)
	sink, status, export, closeSink, err := cc.sink(ctx, c, conn, f, host)
	if err != nil {
		return err
	}
	defer closeSink()
	started := time.Now()
	collectStarted = true
	progress, stopProgress := startProgress(ctx, chooseProgress(c.Bool("json-events"), c.Bool("quiet"), c.App.ErrWriter), w, c.App.ErrWriter, plan.Bytes, status)
	rep, err := session.Collect(ctx, plan, orchestrator.CollectOptions{
		Sink: sink, SinkHost: host, Export: export,
		Retries: c.Int("retries"), Logger: f.logger,
		TwoPass:     c.String("verify") == "two-pass",
		HostHashes:  f.hostHashes,
		Transport:   c.String("transport"),
		Resume:      resume[conn.Addr()],
		Progress:    progress,
		Parallel:    c.Int("parallel"),
		Memory:      c.Bool("memory"),
		Redial:      func(ctx context.Context) (*orchestrator.Conn, error) { return dialHost(ctx, c) },
		Workstation: workstation(),
		CaseID:      caseName(c, f.caseDir),
	})
	stopProgress()
	if err != nil && ctx.Err() != nil {
		undone := "our snapshots were removed and the mount detached"
		if rep != nil && len(rep.Cleanup) > 0 {
			undone = "NOT everything was undone, see below; run esxsink cleanup on this host"
		}
		err = fmt.Errorf("interrupted (%w): %s; files verified so far are kept; run the same collect with --resume to go on", err, undone)
	}
	printOutcome(c, f.caseDir, rep, tri, err)
	// Closed before the closing statement, so that the log head it
	// prints is the last record of this run.
	closeSink()
	if !c.Bool("json-events") && !c.Bool("json") {
		printClosing(w, closingOf(rep, plan, f.caseDir, time.Since(started), err, cc.log))
	}
	if err == nil {
		err = notCollected
	}
	if err != nil {
		return cli.Exit(withAdvice(err), 1)
	}
	return nil
}

// dryRun prints the plan, and fails when --all leaves VMs out.
func dryRun(c *cli.Context, plan *orchestrator.Plan, notCollected error) error {
	if c.Bool("json") {
		if err := writeJSONTo(c.App.Writer, plan); err != nil {
			return err
		}
	} else {
		printPlan(c.App.Writer, plan)
	}
	if notCollected != nil {
		return cli.Exit(notCollected.Error(), 1)
	}
	return nil
}

// printOutcome prints the run's outcome: the run.finished event after
// --json-events, the outcome as JSON with --json, else the table of files
// and the triage's outputs.
func printOutcome(c *cli.Context, caseDir string, rep *orchestrator.Outcome, tri *orchestrator.TriageResult, err error) {
	w := c.App.Writer
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
		printTriage(w, tri)
	}
}

// planCollect opens the orchestrator session on conn, identifies and
// discovers the host, and plans the examiner's selection, with the host
// triage's files when asked; notCollected names the registered VMs --all
// cannot collect (noted in the case; collect exits 1 for them).
func planCollect(ctx context.Context, c *cli.Context, f *collectFlags, cc *collectCase, conn *orchestrator.Conn, runID string) (session *orchestrator.Session, plan *orchestrator.Plan, tri *orchestrator.TriageResult, notCollected, err error) {
	outDir := ""
	if cc.log != nil {
		outDir = filepath.Join(cc.dir, orchestrator.HostCommandsFolder)
	}
	session, err = orchestrator.OpenSession(conn, orchestrator.SessionOptions{Log: cc.log, OutDir: outDir, User: c.String("user"), RunID: runID, Logger: f.logger})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	inv, err := session.Discover(ctx)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	notCollected = unplacedError(inv, c.Bool("all"))
	if notCollected != nil && cc.log != nil {
		if _, err := cc.log.Append(custody.TypeNote, custody.Note{Text: notCollected.Error()}); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	plan, err = session.Plan(orchestrator.Selection{VMs: vmArgs(c), All: c.Bool("all"), Unregistered: c.Bool("unregistered"), Devices: c.StringSlice("usb")},
		orchestrator.PlanOptions{SinkFree: freeSpace(f.caseDir), RDM: c.Bool("rdm"), Independent: c.Bool("independent"),
			Folders: orchestrator.CaseFolders(cc.earlier, inv)})
	var selErr *orchestrator.SelectionError
	if errors.As(err, &selErr) {
		return nil, nil, nil, nil, usageError(err)
	}
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if missed := missedError(plan); missed != nil {
		notCollected = errors.Join(notCollected, missed)
	}
	if tri, err = hostArtifacts(ctx, c, session.Runner, cc.log, plan, conn.Addr(), orchestrator.TriageFolder, f.logger); err != nil {
		return nil, nil, nil, nil, err
	}
	return session, plan, tri, notCollected, nil
}

// verbatimList is a repeatable flag whose values are kept exactly as
// given: urfave/cli's string slices trim blanks and split at commas, and a
// VM's name may have both.
type verbatimList []string

func (l *verbatimList) Set(v string) error { *l = append(*l, v); return nil }
func (l *verbatimList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ", ")
}

// vmArgs are the --vm values, verbatim.
func vmArgs(c *cli.Context) []string {
	if l, ok := c.Generic("vm").(*verbatimList); ok {
		return *l
	}
	return nil
}

// unplacedError names the registered VMs --all cannot collect, so collect
// exits non-zero instead of passing without them; nil when there are none.
func unplacedError(inv *orchestrator.Inventory, all bool) error {
	if !all || len(inv.Unplaced) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--all: %d registered VM(s) on %s found but not collected:", len(inv.Unplaced), inv.Host.Addr)
	for _, u := range inv.Unplaced {
		fmt.Fprintf(&b, "\n  vmid %d %q (%s): %s", u.ID, u.Name, u.VMX, u.Reason)
	}
	return errors.New(b.String())
}

// missedError names what the run was asked for and the plan cannot
// collect (a file whose evidence path another file holds, the LUN of an
// RDM whose device is unknown under --rdm), so collect exits non-zero as
// verify finds the case incomplete; unplaced VMs are unplacedError's. Nil
// when nothing is missed.
func missedError(p *orchestrator.Plan) error {
	var lines []string
	for _, u := range p.NotCollected {
		if u.Missed && u.What != "unplaced VM" {
			lines = append(lines, fmt.Sprintf("\n  %s %s: %s", u.What, hashlog.QuoteIfNeeded(u.Path), u.Why))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("%d item(s) asked for were not collected:%s", len(lines), strings.Join(lines, ""))
}

// startEmbeddedSink starts collect's own sink on the case, allowing only
// the hosts at hostIPs to mount it; for the SFTP transport it binds no
// port.
func startEmbeddedSink(ctx context.Context, c *cli.Context, caseDir, sinkHost string, hostIPs []netip.Addr, piece int64, caseLog nfssink.CustodyLog, logger *slog.Logger) (*nfssink.Sink, error) {
	sftp := c.String("transport") == orchestrator.TransportSFTP
	if !sftp && (c.Int("nfs-port") != 2049 || c.Int("portmap-port") != 111) {
		fmt.Fprintf(c.App.ErrWriter, "note: the sink is on ports %d/%d; a real ESXi host only finds it on 111 and 2049\n", c.Int("portmap-port"), c.Int("nfs-port"))
	}
	var allow []netip.Prefix
	for _, ip := range hostIPs {
		allow = append(allow, netip.PrefixFrom(ip, ip.BitLen()))
	}
	sink, err := nfssink.New(nfssink.Config{
		EvidenceDir: hashlog.EvidenceDir(caseDir), StateDir: stateDir(caseDir), Address: sinkHost,
		NFSPort: c.Int("nfs-port"), Portmap: "builtin", PortmapPort: c.Int("portmap-port"), Export: c.String("export"),
		Allow: allow, IdleFinalize: -1, Log: caseLog, Logger: logger, PieceSize: piece,
		ScratchPrefixes: []string{esxi.LockFilePrefix},
	})
	if err != nil {
		return nil, err
	}
	start := sink.Start
	if sftp {
		start = sink.StartReceiver // binds no NFS, MOUNT or portmap port
	}
	if err := start(ctx); err != nil {
		return nil, fmt.Errorf("start the embedded sink on %s: %w%s", sinkHost, err, bindAdvice(err, "collect"))
	}
	return sink, nil
}

// sameDir reports whether a and b name the same folder.
func sameDir(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
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
	fmt.Fprintln(w)
	for _, n := range p.NotCollected {
		fmt.Fprintf(w, "NOT COLLECTED %-16s %s  (%s; %s)\n", n.What, hashlog.QuoteIfNeeded(strings.TrimSpace(n.Name+" "+n.Path)), orNone(n.Flag), n.Why)
	}
	fmt.Fprintln(w, "dry run: nothing was changed on the host")
}

func orNone(flag string) string {
	if flag == "" {
		return "no option collects it"
	}
	return "collect it with " + flag
}

func printReport(w io.Writer, rep *orchestrator.Outcome) {
	fmt.Fprintf(w, "%-8s %10s %8s  %-22s  %s\n", "result", "size", "time", "host = sink = at rest", "file")
	for _, f := range rep.Files {
		state := "ok"
		switch {
		case f.CopiedLive:
			// Hashes agree, but the file changed while it was read.
			state = "live"
		case f.NotStarted:
			state = "NOT STARTED"
		case !f.Verified:
			state = "FAILED"
		case f.Resumed:
			state = "resumed"
		}
		// Each hash the host computed equals the sink's on arrival, and the
		// at-rest re-read (one strong hash) equals them too.
		var agreed []string
		atRest := false
		for _, a := range []string{"md5", "sha256"} {
			h := f.HostHashes[a]
			if h == "" || h != f.SinkHashes[a] || (f.AtRest[a] != "" && f.AtRest[a] != h) {
				continue
			}
			agreed = append(agreed, a)
			atRest = atRest || f.AtRest[a] == h
		}
		same := strings.Join(agreed, ", ")
		if same == "" || !atRest {
			same = "-"
		}
		fmt.Fprintf(w, "%-8s %10s %8s  %-22s  %s\n", state, humanBytes(f.Size), f.Duration.Round(100*time.Millisecond), same, f.Dest)
		for _, a := range []string{"md5", "sha256"} {
			if h := f.SinkHashes[a]; h != "" {
				fmt.Fprintf(w, "%9s%-7s %s\n", "", a, h)
			}
		}
		if f.Error != "" {
			fmt.Fprintf(w, "%9s%s\n", "", f.Error)
		}
		for _, r := range f.BadSectors {
			fmt.Fprintf(w, "%9sunreadable, zeros in the image: %s\n", "", r)
		}
		if len(f.BadSectors) == 0 {
			for _, e := range f.ReadErrors {
				fmt.Fprintf(w, "%9sread error, zeros in the image: %s\n", "", e)
			}
		}
		if f.Item.Live && f.Item.Note != "" {
			fmt.Fprintf(w, "%9s%s\n", "", f.Item.Note)
		}
		if f.CopiedLive {
			fmt.Fprintf(w, "%9scopied live, not verified: %s\n", "", f.LiveReason)
		}
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "%-8s %10s %8s  %-22s  %s (%s)\n", "skipped", humanBytes(s.Size), "", "", s.Source, s.Note)
	}
	for _, e := range rep.Cleanup {
		fmt.Fprintf(w, "CLEANUP FAILED: %s\n", e)
	}
}

func cleanupCommand() *cli.Command {
	return &cli.Command{
		Name:  "cleanup",
		Usage: "find and undo what an interrupted esxsink collect left on an ESXi host (our snapshots and mounts only)",
		Description: `Lists snapshots named esxsink-RUNID-vmVMID, NFS datastores labelled esxsink-RUNID and
the run's files in /tmp (lease, stop file, FIFOs), the names collect gives them. A snapshot is
ours only when its name and description name the same run and it has no child; anything else
named like ours is listed and left alone. A run whose lease on the host is fresh is never
touched (cleanup names its workstation, case and heartbeat age and exits 1); a run whose lease
heartbeat is older than 10 minutes is undone only with --force. Snapshots are removed by id
(never removeall), datastores detached, the run's files and lease removed. It needs --case:
every command it runs is recorded in that case's custody log. With --dry-run it only lists.

With --vcenter and --case: puts back every host's SSH service (TSM-SSH) that a collect --vcenter
into that case changed and did not restore (the process was killed), as the run found it; a
service changed since by someone else is left alone. It refuses while a collect holds the case.`,
		Flags: append(append(eitherRequired(append(hostFlags(), vcenterFlags()...), "host", "vcenter"), caseFlags(false)...),
			&cli.BoolFlag{Name: "dry-run", Usage: "list the leftovers and change nothing"},
			&cli.BoolFlag{Name: "force", Usage: "undo a run that still has a lease on the host, when its heartbeat is older than 10 minutes (a dead run); a fresh lease is never overridden"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "diagnostic log level on stderr"},
		),
		Action: runCleanup,
	}
}

func runCleanup(c *cli.Context) error {
	switch {
	case c.String("vcenter") != "" && c.String("host") != "":
		return usageError(errors.New("give --host (one ESXi host over SSH) or --vcenter (the SSH services a fleet run changed), not both"))
	case c.String("vcenter") != "":
		return runVCenterCleanup(c)
	case c.String("host") == "":
		return usageError(errors.New("say what to clean up: --host (an ESXi host over SSH) or --vcenter (the SSH services a fleet run into --case changed)"))
	}
	logger, err := newLogger(c.String("log-level"), c.App.ErrWriter)
	if err != nil {
		return usageError(err)
	}
	ctx := c.Context
	if c.String("case") == "" && !c.Bool("dry-run") {
		// What cleanup removes from a customer's host belongs in a
		// custody log: without a case there is none to write it to.
		return usageError(errors.New("cleanup changes the host: give --case CASE (the case of the interrupted collect) so that every command it runs is in that case's custody log; --dry-run lists the leftovers without a case"))
	}
	var rec orchestrator.Recorder
	outDir := ""
	if caseDir := c.String("case"); caseDir != "" && !c.Bool("dry-run") {
		log, err := openCase(c, caseDir)
		if err != nil {
			return err
		}
		defer log.Close()
		rec, outDir = log, filepath.Join(caseDir, orchestrator.HostCommandsFolder)
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
	var de *orchestrator.DiscoveryError
	if errors.As(err, &de) && inv != nil {
		// Cleanup only undoes what is ours: it goes on with the VMs that
		// were placed, and says which ones it could not look at.
		fmt.Fprintf(c.App.ErrWriter, "warning: %v\nour snapshots on those VMs, if any, are not looked for\n", err)
	} else if err != nil {
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
		fmt.Fprintln(w, l.String())
	}
	if c.Bool("dry-run") {
		fmt.Fprintln(w, "dry run: nothing was changed on the host")
		return nil
	}
	out, err := orchestrator.UndoLeftovers(ctx, lefts, orchestrator.CleanupOptions{Runner: r, Log: rec, Host: conn.Addr(), Logger: logger,
		Force: c.Bool("force"), StaleAfter: orchestrator.DefaultLeaseStale, By: "esxsink cleanup on " + workstation()})
	printCleanup(w, out)
	if err != nil {
		return cli.Exit(withAdvice(err), 1)
	}
	return nil
}

// printCleanup is cleanup's summary: what was undone, refused and left
// alone, one line each (each is a custody record too).
func printCleanup(w io.Writer, out *orchestrator.CleanupOutcome) {
	if out == nil {
		return
	}
	for _, s := range out.Undone {
		fmt.Fprintf(w, "undone:     %s\n", s)
	}
	for _, s := range out.Refused {
		fmt.Fprintf(w, "REFUSED:    %s\n", s)
	}
	for _, s := range out.LeftAlone {
		fmt.Fprintf(w, "left alone: %s\n", s)
	}
}

// workstation is this machine's name, for leases and records.
func workstation() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

// caseName names the case in our lease on the host: its id, or its
// folder's name when an existing case was reopened without --case-id.
func caseName(c *cli.Context, caseDir string) string {
	if id := c.String("case-id"); id != "" {
		return id
	}
	return filepath.Base(caseDir)
}

// bindAdvice says what to do about a port the sink could not bind, in
// the words of the command that tried.
func bindAdvice(err error, command string) string {
	var be *nfssink.BindError
	if !errors.As(err, &be) {
		return ""
	}
	switch {
	case be.Privileged && command == "collect":
		return "; run collect as root (or Administrator), grant the binary `sudo setcap cap_net_bind_service=+ep $(which esxsink)`, or copy without a mount: --transport sftp"
	case be.Privileged:
		return "; run as root (or Administrator), grant the binary `sudo setcap cap_net_bind_service=+ep $(which esxsink)`, or use --portmap=rpcbind with a running rpcbind"
	case be.InUse && command == "collect":
		return "; stop the other server (or a running esxsink serve: collect --sink CASE uses it), or choose other ports for tests with --nfs-port and --portmap-port"
	case be.InUse:
		return "; stop the other server, or choose other ports for tests with --nfs-port and --portmap-port"
	}
	return ""
}

// parseHostHashes reads --host-hash ("md5,sha256", "md5").
func parseHostHashes(s string, twoPass bool) ([]esxi.HashAlg, error) {
	var algs []esxi.HashAlg
	for _, f := range strings.Split(s, ",") {
		if f = strings.ToLower(strings.TrimSpace(f)); f != "" {
			algs = append(algs, esxi.HashAlg(f))
		}
	}
	if len(algs) == 0 {
		return nil, errors.New("--host-hash: name at least one hash (md5, sha256): the host's hash is what proves the copy equals the source")
	}
	algs, err := orchestrator.CollectOptions{HostHashes: algs, TwoPass: twoPass}.CheckHostHashes()
	if err != nil {
		return nil, fmt.Errorf("--host-hash %q: %w", s, err)
	}
	return algs, nil
}
