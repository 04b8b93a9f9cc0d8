package orchestrator

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/esxi"
)

// Sink is the evidence sink the host writes to (a *nfssink.Sink, or a
// running esxsink serve through its control API). The orchestrator
// reaches the evidence folder only through it: every path is relative
// to the evidence folder, in slash form.
type Sink interface {
	// Finalize syncs rel, completes and records its hashes; atRest
	// re-reads the synced file. ctx stops the re-reading (the error then
	// wraps ctx's and the file is not verified).
	Finalize(ctx context.Context, rel, reason string, expectedSize int64, atRest bool) (custody.FileFinalized, error)
	// OpenEvidence opens rel read-only (a rescue looks for the blocks a
	// copy zero-filled in what arrived).
	OpenEvidence(ctx context.Context, rel string) (io.ReadSeekCloser, error)
	// MakeDir creates an evidence folder (and its parents), so the host
	// finds the plan's folders before it writes into them.
	MakeDir(rel string) error
	// Supersede moves the earlier attempt at rel, if any, to the sink's
	// superseded area and records the move: a new copy of the same
	// source keeps the host's name. It returns nil when rel is free.
	Supersede(rel, run, reason string) (*custody.FileSuperseded, error)
}

// CollectOptions says where and how to acquire.
type CollectOptions struct {
	Runner Commander
	Log    Recorder
	Sink   Sink
	// Host names the ESXi host in messages and records.
	Host string
	// SinkHost is the address the ESXi host mounts the sink from (the
	// workstation's IP as the host sees it); Export the sink's export.
	SinkHost, Export string
	// RunID makes our datastore label and snapshot names unique: 8
	// lowercase hex digits (default: random).
	RunID string
	// TwoPass hashes each source on the host before copying it and
	// compares that with the hash of the copy's read: a source that
	// changes between reads (a live LUN) is caught, at twice the reading.
	TwoPass bool
	// HostHashes are the hashes the host computes in the copy's read
	// (default MD5 and SHA-256). The host's hashing is often the slow
	// part of a copy; fewer host hashes (MD5 alone, as in the manual
	// procedure) go faster, and the sink still computes all of its own.
	HostHashes []esxi.HashAlg
	// Retries is how often a file that does not verify is copied again.
	Retries int
	// BlockSize caps dd's bs (default 1 MiB).
	BlockSize int64
	// UnmountBackoff is the first wait before retrying a busy unmount
	// (default 1 s, doubling).
	UnmountBackoff time.Duration
	// CleanupTimeout bounds cleanup after an error or cancellation
	// (default 2 min).
	CleanupTimeout time.Duration
	// Redial, when set, opens a new connection to the host after the
	// connection was lost, so that cleanup can still remove our snapshot
	// and detach the mount. Runner must then be a *Runner.
	Redial func(ctx context.Context) (*Conn, error)
	// Resume lists files an earlier run verified (VerifiedInCase): a
	// planned file with the same source and size whose evidence file the
	// sink still holds at that size is not copied again.
	Resume map[string]Verified
	// Memory snapshots running VMs with their memory and collects the
	// .vmem and .vmsn our snapshot writes: the RAM at that moment.
	Memory bool
	// Parallel is how many files are copied at once (default 1). Each
	// copy is its own SSH session and its own stream into the sink.
	Parallel int
	// Transport is how files travel: TransportNFS (default: the host
	// mounts the sink and dd writes into it) or TransportSFTP (the
	// orchestrator reads each file over SFTP into a StreamSink; no mount,
	// SinkHost and Export unused).
	Transport string
	// Workstation and CaseID go into the run's lease on the host, so that
	// esxsink cleanup run by someone else can name whose run it refuses
	// to touch.
	Workstation, CaseID string
	// LeaseInterval is how often the lease's heartbeat is refreshed
	// (default DefaultLeaseInterval).
	LeaseInterval time.Duration
	// SnapshotAttempts bounds the tries to take a VM's snapshot (default
	// 3); SnapshotBackoff is the first wait between them (default 5 s,
	// doubling).
	SnapshotAttempts int
	SnapshotBackoff  time.Duration
	// Progress, when set, is told about each file as it starts and ends;
	// with Parallel > 1 it is called from several goroutines.
	Progress func(Progress)
	Logger   *slog.Logger
}

// Progress is a file's state for a progress display.
type Progress struct {
	Item PlanItem
	// Host names the host the file comes from in a fleet run, where
	// several hosts' files are in flight at once ("" for one host).
	Host    string
	Index   int // 1-based, within Host's plan
	Total   int
	Done    bool
	Result  *FileOutcome
	Started time.Time
}

// Counter is "[3/10]", or "[esx01 3/10]" in a fleet run: which file of
// which host's plan.
func (p Progress) Counter() string {
	return fmt.Sprintf("[%s%d/%d]", hostPrefix(p.Host), p.Index, p.Total)
}

// FileOutcome is the outcome of one planned file.
type FileOutcome struct {
	Item PlanItem `json:"item"`
	// Dest is where the reported attempt went, relative to
	// CASE/evidence: always Item.Dest, the file's own path.
	Dest       string            `json:"dest"`
	HostHashes map[string]string `json:"host_hashes,omitempty"`
	// PreHash is the source's md5 before the copy (two-pass only), read
	// as the copy reads it: dd conv=noerror,sync, so unreadable sectors
	// are hashed as the zeros the copy writes.
	PreHash string `json:"pre_copy_md5,omitempty"`
	// PreReadErrors are dd's read errors in that first read.
	PreReadErrors []string          `json:"pre_copy_read_errors,omitempty"`
	SinkHashes    map[string]string `json:"sink_hashes,omitempty"`
	AtRest        map[string]string `json:"at_rest,omitempty"`
	Size          int64             `json:"size"`
	// Resumed says the file was verified by an earlier run.
	Resumed bool `json:"resumed,omitempty"`
	// ReadErrors are dd's read errors: each unreadable block became zeros
	// in the copy (conv=noerror,sync), at its offset.
	ReadErrors []string `json:"read_errors,omitempty"`
	// BadSectors are the source's unreadable sectors, found by reading
	// the failed blocks again sector by sector: only these are zeros.
	BadSectors []custody.SectorRange `json:"bad_sectors,omitempty"`
	// Superseded are where the sink moved earlier attempts at Dest (a
	// copy with whole blocks zeroed before the sector-level re-read, a
	// retry's first copy, an earlier run's partial copy).
	Superseded []string `json:"superseded,omitempty"`
	Verified   bool     `json:"verified"`
	// NotStarted says the copy never began (the run stopped first, or its
	// VM's snapshot could not be taken); Error says why.
	NotStarted bool `json:"not_started,omitempty"`
	// CopiedLive says a file the plan could not freeze (Item.Live)
	// changed while it was read: what was read is kept, its hashes agree
	// on every side, but it is not verified; LiveReason says what changed.
	CopiedLive bool          `json:"copied_live,omitempty"`
	Attempts   int           `json:"attempts"`
	Duration   time.Duration `json:"duration"`
	Error      string        `json:"error,omitempty"`
	// SizeAtStart and SizeAtEnd are the source's size on the host when
	// its copy started (what was copied) and when it ended; 0 for a
	// device, whose size is esxcli's and is not measured.
	SizeAtStart int64  `json:"size_at_start"`
	SizeAtEnd   int64  `json:"size_at_end"`
	LiveReason  string `json:"live_reason,omitempty"`

	// mtimeStart and mtimeEnd are the source's mtimes (seconds since
	// 1970) beside SizeAtStart and SizeAtEnd.
	mtimeStart, mtimeEnd int64
	// sized says SizeAtStart was measured.
	sized bool
	// changed marks a frozen file that changed while it was copied:
	// copying it again would hide that.
	changed bool
	// bs and read are how the copy read its source (esxi.CopyParts; nil
	// read is one dd at bs to the end): a rescue re-reads the same way,
	// with the failing blocks sector by sector.
	bs   int64
	read []esxi.ReadPart
}

// Outcome is what a collect run did.
type Outcome struct {
	RunID   string        `json:"run_id"`
	Label   string        `json:"label"`
	Files   []FileOutcome `json:"files"`
	Skipped []PlanItem    `json:"skipped,omitempty"`
	// Cleanup lists what could not be undone (empty when the host was
	// left as found).
	Cleanup []string `json:"cleanup_errors,omitempty"`
	// Undone is what the run undid on the host at its end; Anomalies what
	// it found changed under it (by someone else). Both are custody
	// records too; the closing summary lists them.
	Undone    []string `json:"undone,omitempty"`
	Anomalies []string `json:"anomalies,omitempty"`
}

// OK reports whether every planned file verified or, being live, was
// copied live, and cleanup succeeded. A copied-live file is named in the
// report; it does not fail the run by itself.
func (r *Outcome) OK() bool {
	if len(r.Cleanup) > 0 {
		return false
	}
	for _, f := range r.Files {
		if f.failed() {
			return false
		}
	}
	return true
}

// failed reports a file that neither verified nor was copied live.
func (f FileOutcome) failed() bool { return !f.Verified && !f.CopiedLive }

// ErrCustodyLog means the custody log could not be written: the run
// stopped, because evidence whose custody is not recorded is not acquired.
var ErrCustodyLog = errors.New("the custody log cannot be written")

// ErrNotVerified is returned when some planned file did not verify.
var ErrNotVerified = errors.New("not every planned file verified")

type collector struct {
	o      CollectOptions
	tr     transport // how files travel, chosen from o.Transport
	label  string
	logger *slog.Logger
	// stopRun ends the run with a cause (set by Collect; a no-op before);
	// logErr is the custody log failure that stopped it, if any.
	stopRun func(error)
	logMu   sync.Mutex
	logErr  error
	// slots bounds the copies in flight to o.Parallel.
	slots chan struct{}
	// stores is the plan's datastore table (where files found during
	// the run go).
	stores []custody.Datastore

	// mu guards what parallel copies share below.
	mu      sync.Mutex
	mounted bool
	// copied says a stoppable copy was started on the host.
	copied bool
	nas    esxi.NASTool
	snaps  []*ourSnapshot
	fifoN  int
	hashes []esxi.HashAlg
	report *Outcome
	lease  lease
	// vanished are VMs whose snapshot of ours disappeared under the run:
	// their frozen disks cannot be copied any more.
	vanished map[*VM]*ourSnapshot

	// sinkMu serialises recovering a lost sink; mountGen counts the
	// mounts, so that copies that failed on one lost mount recover it
	// once; remounts bounds the recoveries.
	sinkMu   sync.Mutex
	mountGen int
	remounts int
}

// NewRunID returns a short random id for labels and snapshot names.
func NewRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Collect acquires the plan: it mounts the sink on the host, copies every
// planned file (running VMs' disks under a snapshot of ours), verifies
// host = sink = at rest, and always removes our snapshots and detaches the
// mount, also when ctx is cancelled. The error is nil only when every
// planned file verified (or, live, was copied live) and cleanup
// succeeded; the report is returned in every case once the run started.
func Collect(ctx context.Context, plan *Plan, o CollectOptions) (*Outcome, error) {
	if o.Runner == nil || o.Sink == nil {
		return nil, errors.New("collect: runner and sink are required")
	}
	tr, err := newTransport(&o)
	if err != nil {
		return nil, err
	}
	if o.RunID == "" {
		o.RunID = NewRunID()
	}
	if !runIDPattern.MatchString(o.RunID) {
		return nil, fmt.Errorf("collect: run id %q is not 8 lowercase hex digits (esxsink cleanup finds our leftovers by that form)", o.RunID)
	}
	if o.Export == "" {
		o.Export = "/esxsink"
	}
	if o.BlockSize <= 0 {
		o.BlockSize = 1 << 20
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = 2 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Parallel < 1 {
		o.Parallel = 1
	}
	if o.HostHashes, err = o.CheckHostHashes(); err != nil {
		return nil, fmt.Errorf("collect: %w", err)
	}
	c := &collector{o: o, tr: tr, label: "esxsink-" + o.RunID, logger: o.Logger, slots: make(chan struct{}, o.Parallel), vanished: map[*VM]*ourSnapshot{},
		stopRun: func(error) {},
		stores:  plan.Datastores}
	c.report = &Outcome{RunID: o.RunID, Label: c.label}
	if len(plan.Datastores) > 0 && c.o.Log != nil {
		// Before any file: descriptors name extents and parents by
		// /vmfs/volumes paths, which this table maps into the case.
		c.appendRecord(custody.TypeDatastores, custody.Datastores{Host: o.Host, RunID: o.RunID, Stores: plan.Datastores})
		for _, ds := range plan.Datastores {
			if why := FolderReason(ds); why != "" {
				c.appendRecord(custody.TypeNote, custody.Note{Text: fmt.Sprintf("datastore %q (UUID %s) of %s is in the evidence folder as %s: %s", ds.Name, ds.UUID, o.Host, ds.Folder, why)})
			}
		}
	}
	for _, it := range plan.Items {
		if it.Method == MethodSkip {
			c.report.Skipped = append(c.report.Skipped, it)
			c.record(custody.TypeFileSkipped, custody.Step{VMID: it.VMID, VM: it.VMName, Source: it.Source, Size: it.Size, Note: it.Note})
		}
	}
	for _, u := range plan.NotCollected {
		u.RunID = o.RunID
		u.Host = cmp.Or(u.Host, o.Host)
		c.appendRecord(custody.TypeNotCollected, u)
	}
	ctx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	c.stopRun = func(err error) {
		// Its own lock: a record may be written while c.mu is held.
		c.logMu.Lock()
		if c.logErr == nil {
			c.logErr = err
		}
		c.logMu.Unlock()
		stopRun(err)
	}
	c.record(custody.TypeAcquisitionStarted, custody.Step{Label: c.label, Files: plan.Files, Size: plan.Bytes, HostHashAlgorithms: algNames(o.HostHashes)})
	// Every planned copy is named before any starts, so that a run cut
	// off at any point leaves each one accounted for in the log.
	for _, it := range plan.Copies() {
		c.record(custody.TypeFilePlanned, custody.Step{VMID: it.VMID, VM: it.VMName, Source: it.Source, Dest: it.Dest, Size: it.Size,
			PlannedSize: it.Size, Kind: it.Kind, Method: it.Method, Live: it.Live, Note: it.Note, Image: it.Image})
	}
	runErr := c.run(ctx, plan)
	c.logMu.Lock()
	if c.logErr != nil && !errors.Is(runErr, ErrCustodyLog) {
		runErr = errors.Join(runErr, c.logErr)
	}
	c.logMu.Unlock()
	c.cleanup(ctx, runErr)
	c.accountForAll(plan, runErr)
	failed := 0
	for _, f := range c.report.Files {
		if f.failed() {
			failed++
		}
	}
	rec := custody.Step{Label: c.label, Files: len(c.report.Files), Failed: failed}
	if runErr != nil {
		rec.Error = runErr.Error()
	}
	c.record(custody.TypeAcquisitionFinished, rec)
	var cleanupErr error
	for _, e := range c.report.Cleanup {
		cleanupErr = errors.Join(cleanupErr, errors.New(e))
	}
	switch {
	case runErr != nil || cleanupErr != nil:
		return c.report, errors.Join(runErr, cleanupErr)
	case failed > 0:
		return c.report, fmt.Errorf("%w: %d of %d files failed", ErrNotVerified, failed, len(c.report.Files))
	}
	return c.report, nil
}

// accountForAll reports every planned copy that has no result yet (the
// run stopped before it, e.g. the mount failed) as not started, by name.
func (c *collector) accountForAll(plan *Plan, runErr error) {
	why := runErr
	if why == nil {
		why = errors.New("the run ended before this copy started")
	}
	c.mu.Lock()
	done := map[string]bool{}
	for _, f := range c.report.Files {
		done[f.Item.Source+"\x00"+f.Item.Dest] = true
	}
	c.mu.Unlock()
	var missing []job
	for i, it := range plan.Copies() {
		if !done[it.Source+"\x00"+it.Dest] {
			missing = append(missing, job{item: it, idx: i + 1})
		}
	}
	c.notStarted(missing, why)
	c.sortResults(plan.Copies())
}

// cleanup removes our snapshots and detaches the mount, whatever happened.
func (c *collector) cleanup(ctx context.Context, runErr error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.CleanupTimeout)
	defer cancel()
	c.mu.Lock()
	snaps := append([]*ourSnapshot(nil), c.snaps...)
	stop := c.copied && runErr != nil
	c.mu.Unlock()
	c.lease.mu.Lock()
	leased := c.lease.written
	c.lease.mu.Unlock()
	if len(snaps) > 0 || c.mounted || stop || leased {
		c.ensureConnected(cctx)
	}
	if stop {
		// A copy whose session we closed goes on reading on the host and
		// keeps our mount busy: stop it before undoing anything.
		c.stopCopies(cctx)
		defer c.clearStop(cctx)
	}
	for _, s := range snaps {
		if err := c.undoSnapshot(cctx, s); err != nil {
			c.report.Cleanup = append(c.report.Cleanup, err.Error())
		}
	}
	if err := c.tr.detach(cctx, c); err != nil {
		c.report.Cleanup = append(c.report.Cleanup, err.Error())
	}
	c.removeFIFOs(cctx)
	// Last: while anything of ours is on the host, the lease says whose.
	c.releaseLease(cctx)
}

// removeFIFOs removes the named pipes of copies that were cut off (a
// finished copy removes its own; this removes nothing else).
func (c *collector) removeFIFOs(ctx context.Context) {
	c.mu.Lock()
	n := c.fifoN
	c.mu.Unlock()
	if n == 0 { // only the NFS copy makes FIFOs
		return
	}
	var cmds []string
	for i := 1; i <= n; i++ {
		if cmd, err := esxi.CmdRemoveFIFO(fmt.Sprintf("/tmp/esxsink-%s-%d.fifo", c.o.RunID, i)); err == nil {
			cmds = append(cmds, cmd)
		}
	}
	_, _ = c.o.Runner.Run(ctx, strings.Join(cmds, "; "))
}

// undone notes, for the closing summary, something the run undid.
func (c *collector) undone(what string) {
	c.mu.Lock()
	c.report.Undone = append(c.report.Undone, what)
	c.mu.Unlock()
}

// record appends a custody record; a failing log is logged, not fatal here
// (the runner's own records fail the commands).
func (c *collector) record(typ string, r custody.Step) {
	r.Host, r.RunID = c.o.Host, c.o.RunID
	if typ == custody.TypeAnomaly || typ == custody.TypeSnapshotVanished {
		c.mu.Lock()
		c.report.Anomalies = append(c.report.Anomalies, strings.Trim(r.Note+"; "+r.Error, "; "))
		c.mu.Unlock()
	}
	c.appendRecord(typ, r)
}

// appendRecord appends to the custody log; a log that cannot be written
// stops the run (one policy with the Runner's command records): evidence
// whose custody is not recorded is not acquired on.
func (c *collector) appendRecord(typ string, data any) {
	if c.o.Log == nil {
		return
	}
	if _, err := c.o.Log.Append(typ, data); err != nil {
		c.logger.Error("custody log append failed: the run stops", "type", typ, "err", err)
		c.stopRun(fmt.Errorf("%w: %s record: %w; check the case disk", ErrCustodyLog, typ, err))
	}
}

// fail records err under typ and returns it.
func (c *collector) fail(typ string, err error) error {
	c.record(typ, custody.Step{Error: err.Error()})
	c.logger.Error(err.Error())
	return err
}

// ensureConnected redials a lost connection when the caller allows it.
func (c *collector) ensureConnected(ctx context.Context) {
	r, ok := c.o.Runner.(*Runner)
	if !ok || c.o.Redial == nil || r.Lost() == nil {
		return
	}
	lost := r.Lost()
	delay := time.Second
	for attempt := 1; attempt <= 5; attempt++ {
		conn, err := c.o.Redial(ctx)
		if err == nil {
			r.SetConn(conn)
			c.record(custody.TypeAcquisitionNote, custody.Step{Note: fmt.Sprintf("reconnected after the connection was lost (%v)", lost), Attempt: attempt})
			return
		}
		c.logger.Warn("reconnect for cleanup failed", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay *= 2
	}
}
