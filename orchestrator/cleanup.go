package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxi"
)

// Our names: the datastore label esxsink-RUNID, the snapshot
// esxsink-RUNID-vmVMID (whose description names RUNID too) and, in /tmp,
// the run's lease, stop file and FIFOs; RUNID being 8 lowercase hex
// digits. Cleanup touches nothing else.
var (
	runIDPattern    = regexp.MustCompile(`^[0-9a-f]{8}$`)
	ourLabelPattern = regexp.MustCompile(`^esxsink-([0-9a-f]{8})$`)
	ourSnapPattern  = regexp.MustCompile(`^esxsink-([0-9a-f]{8})-vm([0-9]+)$`)
	ourTmpPattern   = regexp.MustCompile(`^esxsink-([0-9a-f]{8})(-[0-9]+\.fifo|\.stop|\.lease)$`)
)

// DefaultLeaseStale is the age of a lease's heartbeat after which its run
// is taken for dead (twenty missed heartbeats): only then, and only with
// --force, does cleanup undo a run that still has a lease.
const DefaultLeaseStale = 10 * time.Minute

// Leftover is a mount, snapshot, lease or /tmp file an earlier esxsink
// run left on the host, or something that merely looks like one.
type Leftover struct {
	Kind string `json:"kind"` // "mount", "snapshot", "lease" or "file"
	// RunID is the run the name says it belongs to.
	RunID string `json:"run_id"`
	// Path is a file in /tmp: a copy's FIFO, a stop file or a lease.
	Path     string `json:"path,omitempty"`
	Label    string `json:"label,omitempty"`
	Share    string `json:"share,omitempty"`
	VMID     int    `json:"vmid,omitempty"`
	VM       string `json:"vm,omitempty"`
	Snapshot string `json:"snapshot,omitempty"`
	SnapID   int    `json:"snapshot_id,omitempty"`
	// Lease is the run's lease (Kind "lease"); LeaseAge its heartbeat's
	// age by the host's clock; LeaseErr why it could not be read.
	Lease    *esxi.Lease   `json:"lease,omitempty"`
	LeaseAge time.Duration `json:"lease_age,omitempty"`
	LeaseErr string        `json:"lease_error,omitempty"`
	// LeftAlone says why something that looks like ours is not provably
	// ours and is not touched ("" when it is ours).
	LeftAlone string `json:"left_alone,omitempty"`
}

// String names the leftover for the examiner.
func (l Leftover) String() string {
	var s string
	switch l.Kind {
	case "snapshot":
		s = fmt.Sprintf("snapshot %q (id %d) of VM %q (vmid %d)", l.Snapshot, l.SnapID, l.VM, l.VMID)
	case "mount":
		s = fmt.Sprintf("datastore %q (%s)", l.Label, l.Share)
	case "lease":
		s = "lease " + l.Path
		if l.Lease != nil {
			s += fmt.Sprintf(" (workstation %s, case %s, pid %d, heartbeat %s old)", orNone(l.Lease.Workstation), orNone(l.Lease.Case), l.Lease.PID, l.LeaseAge.Round(time.Second))
		}
	default:
		s = "file " + l.Path
	}
	if l.LeftAlone != "" {
		s += ": left alone, " + l.LeftAlone
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// FindLeftovers lists what our runs leave on the host: our mounts
// (esxcfg-nas -l), snapshots (from the inventory's snapshot trees),
// leases and /tmp files, by their names. A snapshot is ours only when
// its name and description name the same run and it is a leaf; anything
// else named like ours is listed with LeftAlone set.
func FindLeftovers(ctx context.Context, r Commander, inv *Inventory) ([]Leftover, error) {
	var out []Leftover
	for _, vm := range inv.VMs {
		if vm.Snapshots == nil {
			continue
		}
		for _, s := range vm.Snapshots.All() {
			if l, ok := snapshotLeftover(vm, s); ok {
				out = append(out, l)
			}
		}
	}
	mounts, err := listMounts(ctx, r, inv.Host.Addr)
	if err != nil {
		return out, err
	}
	for _, m := range mounts {
		if id := ourLabelPattern.FindStringSubmatch(m.Label); id != nil {
			out = append(out, Leftover{Kind: "mount", RunID: id[1], Label: m.Label, Share: m.Host + ":" + m.Share})
		}
	}
	return append(out, tmpLeftovers(ctx, r)...), nil
}

// snapshotLeftover judges one snapshot named like ours.
func snapshotLeftover(vm *VM, s *esxi.SnapshotNode) (Leftover, bool) {
	m := ourSnapPattern.FindStringSubmatch(s.Name)
	if m == nil {
		return Leftover{}, false
	}
	l := Leftover{Kind: "snapshot", RunID: m[1], VMID: vm.ID, VM: vm.Name, Snapshot: s.Name, SnapID: s.ID}
	d := ourDescPattern.FindStringSubmatch(s.Description)
	switch {
	case m[2] != strconv.Itoa(vm.ID):
		l.LeftAlone = fmt.Sprintf("its name is for vmid %s, not this VM's", m[2])
	case d == nil:
		l.LeftAlone = fmt.Sprintf("its description %q is not the one esxsink gives its snapshots", clip(s.Description))
	case d[1] != m[1]:
		l.LeftAlone = fmt.Sprintf("its description names run %s, its name run %s", d[1], m[1])
	case len(s.Children) > 0:
		l.LeftAlone = fmt.Sprintf("it has %d child snapshot(s): removing it would change the owner's snapshot tree", len(s.Children))
	}
	return l, true
}

func listMounts(ctx context.Context, r Commander, host string) ([]esxi.NASMount, error) {
	res, err := r.Run(ctx, esxi.CmdNASList())
	if err != nil {
		return nil, fmt.Errorf("list NAS datastores on %s: %w", host, err)
	}
	if res.ExitStatus != 0 {
		return nil, fmt.Errorf("esxcfg-nas -l on %s exited with status %d: %s", host, res.ExitStatus, clip(string(res.Stderr)))
	}
	mounts, err := esxi.ParseNASList(string(res.Stdout))
	if err != nil {
		return nil, fmt.Errorf("parse the NAS list of %s: %w", host, err)
	}
	return mounts, nil
}

// tmpLeftovers lists our files in /tmp, reading each lease and the
// host's clock to tell how old its heartbeat is.
func tmpLeftovers(ctx context.Context, r Commander) []Leftover {
	cmd, _ := esxi.CmdLsVMFolder("/tmp")
	res, err := r.Run(ctx, cmd)
	if err != nil || res.ExitStatus != 0 {
		return nil
	}
	entries, err := esxi.ParseFolderListing(string(res.Stdout))
	if err != nil {
		return nil
	}
	var out []Leftover
	for _, e := range entries {
		m := ourTmpPattern.FindStringSubmatch(e.Name)
		if m == nil {
			continue
		}
		l := Leftover{Kind: "file", RunID: m[1], Path: "/tmp/" + e.Name}
		isFIFO := e.Mode&0o170000 == 0o010000
		switch {
		case strings.HasSuffix(m[2], ".fifo") && !isFIFO:
			l.LeftAlone = "named like a FIFO of ours, but not a named pipe"
		case !strings.HasSuffix(m[2], ".fifo") && !e.Mode.IsRegular():
			l.LeftAlone = "named like a file of ours, but not a regular file"
		}
		if m[2] == ".lease" && l.LeftAlone == "" {
			l.Kind = "lease"
			readLease(ctx, r, &l)
		}
		out = append(out, l)
	}
	return out
}

// readLease fills in l's lease and its age; a lease it cannot read is
// taken for a live one (LeaseErr).
func readLease(ctx context.Context, r Commander, l *Leftover) {
	cmd, err := esxi.CmdReadFile(l.Path, 4096)
	if err != nil {
		l.LeaseErr = err.Error()
		return
	}
	res, err := r.Run(ctx, cmd)
	if err == nil && res.ExitStatus != 0 {
		err = fmt.Errorf("exit status %d: %s", res.ExitStatus, clip(strings.TrimSpace(string(res.Stderr))))
	}
	var lease esxi.Lease
	if err == nil {
		lease, err = esxi.ParseLease(string(res.Stdout))
	}
	var now time.Time
	if err == nil {
		if res, err = r.Run(ctx, esxi.CmdDateUTC()); err == nil {
			now, err = esxi.ParseDateUTC(string(res.Stdout))
		}
	}
	if err != nil {
		l.LeaseErr = err.Error()
		return
	}
	l.Lease, l.LeaseAge = &lease, max(now.Sub(lease.Heartbeat), 0)
}

// CleanupOptions are the runner, custody log, policy and logger of
// UndoLeftovers.
type CleanupOptions struct {
	Runner         Commander
	Log            Recorder
	Host           string
	UnmountBackoff time.Duration
	// Force undoes a run that still has a lease, but only when its
	// heartbeat is older than StaleAfter (default DefaultLeaseStale): a
	// run that stopped refreshing it that long ago is dead.
	Force      bool
	StaleAfter time.Duration
	// By names who cleans up in the records ("esxsink cleanup on
	// WORKSTATION").
	By     string
	Logger *slog.Logger
}

// CleanupOutcome is what UndoLeftovers did: each line is also a custody
// record.
type CleanupOutcome struct {
	Undone    []string `json:"undone,omitempty"`
	Refused   []string `json:"refused,omitempty"`
	LeftAlone []string `json:"left_alone,omitempty"`
}

// ErrRefused is returned (wrapped) when cleanup refused to undo a run
// that may be alive.
var ErrRefused = errors.New("refused to undo a run that may still be working")

// ErrStaleLease is wrapped in a refusal of a run whose lease is stale:
// the run looks dead, and CleanupOptions.Force undoes it.
var ErrStaleLease = errors.New("the run looks dead")

// UndoLeftovers undoes what FindLeftovers found, run by run: a run whose
// lease is fresh (or unreadable) is refused, one whose lease is stale
// only with Force; what merely looks like ours is left alone. Snapshots
// are removed by id (confirming each is gone), mounts detached, the
// run's files removed and its lease last. Every step is a custody
// record; the error joins what could not be undone and ErrRefused.
func UndoLeftovers(ctx context.Context, lefts []Leftover, o CleanupOptions) (*CleanupOutcome, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = DefaultLeaseStale
	}
	out := &CleanupOutcome{}
	runs := map[string][]Leftover{}
	for _, l := range lefts {
		if l.LeftAlone != "" {
			out.LeftAlone = append(out.LeftAlone, l.String())
			recordStep(o, custody.TypeLeftAlone, custody.Step{RunID: l.RunID, VMID: l.VMID, VM: l.VM, Snapshot: l.Snapshot, SnapID: l.SnapID, Note: l.String()})
			continue
		}
		runs[l.RunID] = append(runs[l.RunID], l)
	}
	ids := make([]string, 0, len(runs))
	for id := range runs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var errs error
	for _, id := range ids {
		if why := refusal(runs[id], o); why != nil {
			out.Refused = append(out.Refused, why.Error())
			errs = errors.Join(errs, fmt.Errorf("%w: %w", ErrRefused, why))
			continue
		}
		errs = errors.Join(errs, undoRun(ctx, id, runs[id], o, out))
	}
	return out, errs
}

// refusal says why run's leftovers are not undone, recording it; nil when
// they may be.
func refusal(items []Leftover, o CleanupOptions) error {
	for _, l := range items {
		if l.Kind != "lease" {
			continue
		}
		rec := custody.Lease{Host: o.Host, RunID: l.RunID, Path: l.Path, By: o.By}
		var why error
		switch {
		case l.Lease == nil:
			why = fmt.Errorf("run %s on %s has a lease %s that cannot be read (%s): it may be alive, so nothing of it is touched; look again in a minute", l.RunID, o.Host, l.Path, l.LeaseErr)
		case l.LeaseAge < o.StaleAfter:
			why = fmt.Errorf("run %s on %s is alive: its lease names workstation %s, case %s, pid %d, and its heartbeat is %s old (fresh: under %s); nothing of it is touched: ask its examiner, or wait until it ends",
				l.RunID, o.Host, orNone(l.Lease.Workstation), orNone(l.Lease.Case), l.Lease.PID, l.LeaseAge.Round(time.Second), o.StaleAfter)
		case !o.Force:
			why = fmt.Errorf("run %s on %s still has its lease (workstation %s, case %s, pid %d) but its heartbeat is %s old: %w; if you are sure it is, it may be undone by force",
				l.RunID, o.Host, orNone(l.Lease.Workstation), orNone(l.Lease.Case), l.Lease.PID, l.LeaseAge.Round(time.Second), ErrStaleLease)
		default:
			continue
		}
		if l.Lease != nil {
			rec.Workstation, rec.Case, rec.PID = l.Lease.Workstation, l.Lease.Case, l.Lease.PID
			rec.Heartbeat, rec.AgeSeconds = l.Lease.Heartbeat.UTC().Format(time.RFC3339), int64(l.LeaseAge/time.Second)
		}
		rec.Note = why.Error()
		recordAny(o, custody.TypeCleanupRefused, rec)
		o.Logger.Warn(why.Error())
		return why
	}
	return nil
}

// undoRun undoes one run's leftovers: its copies are stopped first, so
// neither snapshot nor mount is busy; its files and lease go last.
func undoRun(ctx context.Context, id string, items []Leftover, o CleanupOptions, out *CleanupOutcome) error {
	c := &collector{tr: nfsTransport{}, o: CollectOptions{Runner: o.Runner, Log: o.Log, Host: o.Host, UnmountBackoff: o.UnmountBackoff, RunID: id},
		logger: o.Logger, report: &Outcome{}, vanished: map[*VM]*ourSnapshot{}}
	var errs error
	hasMount := false
	for _, l := range items {
		hasMount = hasMount || l.Kind == "mount"
	}
	if hasMount {
		c.stopCopies(ctx)
	}
	for _, l := range items {
		switch l.Kind {
		case "snapshot":
			errs = errors.Join(errs, c.undoSnapshot(ctx, &ourSnapshot{vm: &VM{ID: l.VMID, Name: l.VM}, name: l.Snapshot, id: l.SnapID}))
		case "mount":
			c.label, c.mounted = l.Label, true
			errs = errors.Join(errs, c.unmount(ctx))
		}
	}
	if hasMount {
		c.clearStop(ctx)
	}
	for _, l := range items {
		if l.Kind != "file" {
			continue
		}
		if err := removeTmpFile(ctx, o, l.Path); err != nil {
			errs = errors.Join(errs, err)
			continue
		}
		c.undone(l.Path + " removed")
	}
	for _, l := range items {
		if l.Kind != "lease" {
			continue
		}
		if err := removeTmpFile(ctx, o, l.Path); err != nil {
			errs = errors.Join(errs, err)
			continue
		}
		rec := custody.Lease{Host: o.Host, RunID: id, Path: l.Path, By: o.By, Note: "removed by esxsink cleanup"}
		if l.Lease != nil {
			rec.Workstation, rec.Case, rec.PID, rec.AgeSeconds = l.Lease.Workstation, l.Lease.Case, l.Lease.PID, int64(l.LeaseAge/time.Second)
		}
		recordAny(o, custody.TypeLeaseReleased, rec)
		c.undone("lease " + l.Path + " removed")
	}
	out.Undone = append(out.Undone, c.report.Undone...)
	out.LeftAlone = append(out.LeftAlone, c.report.Anomalies...)
	return errs
}

// removeTmpFile removes one of our /tmp files: a FIFO only if it is a
// FIFO, anything else only if it is a regular file.
func removeTmpFile(ctx context.Context, o CleanupOptions, path string) error {
	var cmd string
	var err error
	if strings.HasSuffix(path, ".fifo") {
		cmd, err = esxi.CmdRemoveFIFO(path)
	} else {
		cmd, err = esxi.CmdClearStop(path)
	}
	if err == nil {
		var res *CommandResult
		if res, err = o.Runner.Run(ctx, cmd); err == nil && res.ExitStatus != 0 {
			err = fmt.Errorf("exit status %d: %s", res.ExitStatus, clip(string(res.Stderr)))
		}
	}
	if err != nil {
		return fmt.Errorf("remove %s on %s: %w", path, o.Host, err)
	}
	return nil
}

func recordStep(o CleanupOptions, typ string, s custody.Step) {
	s.Host = o.Host
	recordAny(o, typ, s)
}

func recordAny(o CleanupOptions, typ string, data any) {
	if o.Log == nil {
		return
	}
	if _, err := o.Log.Append(typ, data); err != nil {
		o.Logger.Error("custody log append failed", "type", typ, "err", err)
	}
}
