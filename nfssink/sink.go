package nfssink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/esxsink/esxsink/custody"

	"github.com/go-git/go-billy/v5/osfs"

	"github.com/esxsink/esxsink/digest"
	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/internal/durable"
)

// evidenceFileMode is the mode of files the sink creates on disk.
const evidenceFileMode = 0o640

// CustodyLog receives the sink's records: a *hashlog.Log, shared with the
// orchestrator when the sink is embedded.
type CustodyLog interface {
	Append(typ string, data any) (custody.Record, error)
}

// Config configures a Sink. Zero values take the documented defaults.
type Config struct {
	// EvidenceDir is the folder exported over NFS.
	EvidenceDir string
	// StateDir keeps the case key that makes file handles stable.
	StateDir string
	// Address is the IP to listen on ("" for all).
	Address string
	// NFSPort serves NFSv3 and MOUNT v3 (default 2049; 0 picks a free port
	// only when explicitly requested with NFSPortAuto).
	NFSPort     int
	NFSPortAuto bool
	// Portmap is auto, builtin, rpcbind or off; PortmapPort defaults to 111.
	Portmap     string
	PortmapPort int
	// Export is the only path clients may mount (default /esxsink).
	Export string
	// Allow lists client networks; AllowAny admits every address.
	Allow    []netip.Prefix
	AllowAny bool
	// Hash lists the algorithms computed for every file (default md5,sha256).
	Hash      []string
	PieceSize int64
	// IdleFinalize finalizes a file after this long without writes
	// (default 60 s; negative disables).
	IdleFinalize time.Duration
	// SpaceReserve is the free space kept for the custody log: writes that
	// would eat into it get NFS3ERR_NOSPC (default 16 MiB).
	SpaceReserve int64
	// ScratchPrefixes start the names of the client's own bookkeeping
	// files (ESXi: esxi.LockFilePrefix): created, written and removed
	// freely, never evidence. Recorded in sink.started.
	ScratchPrefixes []string
	// Limits bound what clients can make the sink hold (defaults in
	// limits.go).
	Limits Limits
	Log    CustodyLog
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.EvidenceDir == "" {
		return errors.New("sink config: evidence folder not set")
	}
	if c.StateDir == "" {
		c.StateDir = filepath.Join(c.EvidenceDir, "..", ".esxsink")
	}
	if c.NFSPort == 0 && !c.NFSPortAuto {
		c.NFSPort = 2049
	}
	if c.Portmap == "" {
		c.Portmap = "auto"
	}
	if c.PortmapPort == 0 {
		c.PortmapPort = 111
	}
	if c.Export == "" {
		c.Export = "/esxsink"
	}
	if !strings.HasPrefix(c.Export, "/") || path.Clean(c.Export) != c.Export {
		return fmt.Errorf("sink config: export path %q must be absolute and clean, like /esxsink", c.Export)
	}
	if len(c.Allow) == 0 && !c.AllowAny {
		return ErrNoClientAllowed
	}
	if c.Hash == nil {
		c.Hash = []string{"md5", "sha256"}
	}
	if c.PieceSize == 0 {
		c.PieceSize = digest.DefaultPieceSize
	}
	if c.IdleFinalize == 0 {
		c.IdleFinalize = 60 * time.Second
	}
	if c.SpaceReserve == 0 {
		c.SpaceReserve = 16 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler) // as in orchestrator: callers pass theirs
	}
	c.Limits.defaults()
	if c.Log == nil {
		return errors.New("sink config: no custody log")
	}
	return nil
}

// Sink is a running evidence sink.
type Sink struct {
	cfg      Config
	log      *slog.Logger
	root     *os.Root // evidence folder; nothing is opened outside it
	handles  *handleTable
	efs      *evidenceFS
	verifier [8]byte
	scratch  scratchNames // Config.ScratchPrefixes
	bufs     bufPool
	budget   *recordBudget
	admit    *admission
	goNFS    *goNFSBridge
	events   *eventBus
	space    *spaceGuard

	mu        sync.Mutex
	mounts    []mountEntry
	trackers  map[string]*tracker
	finalized map[string]custody.FileFinalized
	exclusive map[string][]byte

	stats struct {
		written atomic.Int64
	}
	// logFailed holds the first custody log failure (see ErrCustodyLog).
	logFailed atomic.Pointer[error]

	nfsLn   net.Listener
	portmap *portmapper
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closed  atomic.Bool
}

// New prepares a sink on cfg's evidence folder; Start serves it.
func New(cfg Config) (*Sink, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.EvidenceDir, 0o750); err != nil {
		return nil, fmt.Errorf("create evidence folder: %w", err)
	}
	root, err := os.OpenRoot(cfg.EvidenceDir)
	if err != nil {
		return nil, fmt.Errorf("open evidence folder: %w", err)
	}
	key, err := loadCaseKey(cfg.StateDir)
	if err != nil {
		root.Close()
		return nil, err
	}
	s := &Sink{
		cfg:       cfg,
		log:       cfg.Logger,
		root:      root,
		handles:   newHandleTable(key, cfg.EvidenceDir),
		trackers:  map[string]*tracker{},
		finalized: map[string]custody.FileFinalized{},
		exclusive: map[string][]byte{},
		events:    newEventBus(),
		space:     &spaceGuard{dir: cfg.EvidenceDir, reserve: cfg.SpaceReserve},
		budget:    newRecordBudget(cfg.Limits.BufferedRecords),
		scratch:   scratchNames(slices.Clone(cfg.ScratchPrefixes)),
	}
	s.admit = newAdmission(cfg.Limits, s.allowed, s.recordRefusal)
	s.efs = &evidenceFS{Filesystem: osfs.New(cfg.EvidenceDir, osfs.WithBoundOS()), handles: s.handles, scratch: s.scratch}
	// A new verifier on every start tells clients to resend what they had
	// not committed before a restart.
	if _, err := rand.Read(s.verifier[:]); err != nil {
		return nil, err
	}
	return s, nil
}

// loadCaseKey reads, or creates once, the key file handles derive from.
func loadCaseKey(stateDir string) ([8]byte, error) {
	var key [8]byte
	p := filepath.Join(stateDir, "handle-key")
	b, err := os.ReadFile(p)
	if err == nil {
		if k, derr := hex.DecodeString(strings.TrimSpace(string(b))); derr == nil && len(k) == 8 {
			copy(key[:], k)
			return key, nil
		}
		return key, fmt.Errorf("case state file %s is damaged: restore it from a backup, or move it away to start a new case (old NFS handles will then be stale)", p)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return key, fmt.Errorf("read case state: %w", err)
	}
	if err := os.MkdirAll(stateDir, 0o750); err != nil {
		return key, fmt.Errorf("create case state folder: %w", err)
	}
	if _, err := rand.Read(key[:]); err != nil {
		return key, err
	}
	if err := durable.WriteFile(p, []byte(hex.EncodeToString(key[:])+"\n")); err != nil {
		return key, fmt.Errorf("write case state: %w", err)
	}
	return key, nil
}

// Verifier is this run's write verifier, in hex.
func (s *Sink) Verifier() string { return hex.EncodeToString(s.verifier[:]) }

// NFSAddr is the address NFS and MOUNT are served on.
func (s *Sink) NFSAddr() net.Addr { return s.nfsLn.Addr() }

// PortmapAddr is the builtin portmapper's TCP address, or nil.
func (s *Sink) PortmapAddr() net.Addr {
	if s.portmap == nil || s.portmap.tcp == nil {
		return nil
	}
	return s.portmap.tcp.Addr()
}

// Start binds the sink's ports and serves until ctx ends or Close.
func (s *Sink) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	ln, err := listenTCP(s.cfg.Address, s.cfg.NFSPort, "NFS")
	if err != nil {
		return err
	}
	s.nfsLn = ln
	nfsPort := ln.Addr().(*net.TCPAddr).Port
	s.portmap, err = startPortmap(ctx, s.cfg.Portmap, s.cfg.Address, s.cfg.PortmapPort, nfsPort, s.log)
	if err != nil {
		ln.Close()
		return err
	}
	s.goNFS = startGoNFS(ctx, &nfsHandler{s: s}, s.verifier)
	s.record(custody.TypeSinkStarted, custody.SinkStarted{
		WriteVerifier: s.Verifier(),
		Listen:        []string{"nfs+mount " + ln.Addr().String(), "portmap " + s.portmap.describe()},
		Config: map[string]any{
			"export": s.cfg.Export, "allow": s.exportGroups(), "hash": s.cfg.Hash,
			"piece_size": s.cfg.PieceSize, "idle_finalize": s.cfg.IdleFinalize.String(),
			"evidence": s.cfg.EvidenceDir, "scratch_prefixes": s.cfg.ScratchPrefixes,
		},
	})
	s.log.Info("sink serving", "nfs", ln.Addr().String(), "portmap", s.portmap.describe(), "export", s.cfg.Export)
	s.wg.Add(2)
	go s.acceptLoop(ctx)
	go s.idleLoop(ctx)
	return nil
}

// listenTCP binds a port and explains the usual refusals.
func listenTCP(addr string, port int, what string) (net.Listener, error) {
	hp := net.JoinHostPort(addr, fmt.Sprint(port))
	ln, err := net.Listen("tcp", hp)
	if err != nil {
		return nil, bindError(what, hp, err)
	}
	return ln, nil
}

// BindError is a port the sink could not listen on. Privileged says the
// port needs privileges; InUse that another process holds it. Callers add
// the advice that fits their command (serve, collect).
type BindError struct {
	What, Addr        string
	Privileged, InUse bool
	Err               error
}

func (e *BindError) Error() string {
	switch {
	case e.Privileged:
		return fmt.Sprintf("%s: cannot bind %s: ports below 1024 need privileges (root or Administrator, or the cap_net_bind_service capability): %v", e.What, e.Addr, e.Err)
	case e.InUse:
		return fmt.Sprintf("%s: cannot bind %s: the port is in use (another NFS server or rpcbind?): %v", e.What, e.Addr, e.Err)
	}
	return fmt.Sprintf("%s: cannot bind %s: %v", e.What, e.Addr, e.Err)
}

func (e *BindError) Unwrap() error { return e.Err }

func bindError(what, hp string, err error) error {
	return &BindError{What: what, Addr: hp, Privileged: isPermission(err), InUse: isAddrInUse(err), Err: err}
}

func (s *Sink) acceptLoop(ctx context.Context) {
	defer s.wg.Done()
	for {
		nc, err := s.nfsLn.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		// Refused before a byte is read: a client outside --allow, or
		// one connection too many, holds no memory and adds at most one
		// custody record per interval.
		release, ok := s.admit.accept(nc)
		if !ok {
			nc.Close()
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
			tc.SetKeepAlive(true)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer release()
			s.serveConn(ctx, nc)
		}()
	}
}

// idleLoop finalizes files nobody has written for IdleFinalize.
func (s *Sink) idleLoop(ctx context.Context) {
	defer s.wg.Done()
	if s.cfg.IdleFinalize < 0 {
		return
	}
	tick := min(s.cfg.IdleFinalize/4, time.Second)
	t := time.NewTicker(max(tick, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, tr := range s.activeTrackers() {
				if now.Sub(tr.idleSince()) >= s.cfg.IdleFinalize {
					if _, err := s.Finalize(context.Background(), tr.rel, "idle", -1, false); err != nil && !errors.Is(err, ErrNotOpen) {
						s.log.Error("idle finalize failed", "path", tr.rel, "err", err)
					}
				}
			}
		}
	}
}

// Close stops serving, finalizes every open file and records the stop.
func (s *Sink) Close(reason string) error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.nfsLn != nil {
		s.nfsLn.Close()
	}
	s.wg.Wait()
	var errs []error
	for _, t := range s.activeTrackers() {
		if _, err := s.Finalize(context.Background(), t.rel, "shutdown", -1, false); err != nil && !errors.Is(err, ErrNotOpen) {
			errs = append(errs, err)
		}
	}
	if s.portmap != nil {
		s.portmap.close()
	}
	s.admit.flush("refused (counted until the sink stopped)")
	s.mu.Lock()
	n := len(s.finalized)
	s.mu.Unlock()
	s.record(custody.TypeSinkStopped, custody.SinkStopped{Reason: reason, FilesFinalized: n, BytesReceived: s.stats.written.Load()})
	s.events.close()
	s.root.Close()
	return errors.Join(errs...)
}

// record appends to the custody log and publishes the event. A custody log
// that cannot be written is loud: the acquisition is no longer documented.
// ErrCustodyLog means the sink could not write its custody log: it then
// accepts no more evidence (writes get NFS3ERR_IO, finalization fails),
// since bytes whose custody is not recorded cannot be vouched for.
var ErrCustodyLog = errors.New("the sink's custody log cannot be written")

func (s *Sink) record(typ string, data any) {
	if _, err := s.cfg.Log.Append(typ, data); err != nil {
		s.log.Error("CUSTODY LOG WRITE FAILED: the sink accepts no more evidence; check the case disk, restart the sink and copy again", "record", typ, "err", err)
		s.logFailed.CompareAndSwap(nil, &err)
	}
	s.events.publish(Event{Type: typ, Time: time.Now().UTC(), Data: data})
}

func (s *Sink) allowed(a netip.Addr) bool {
	if s.cfg.AllowAny {
		return true
	}
	for _, p := range s.cfg.Allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// attrsOf stats rel inside the evidence folder; nil when it is gone.
func (s *Sink) attrsOf(rel string) *attrs {
	p := "."
	if rel != "" {
		p = filepath.FromSlash(rel)
	}
	fi, err := s.root.Lstat(p)
	if err != nil {
		return nil
	}
	a := attrsFromInfo(fi, s.handles.fileid(rel))
	return &a
}

func (s *Sink) freeBytes() int64 {
	st, err := diskSpace(s.cfg.EvidenceDir)
	if err != nil {
		return -1
	}
	return int64(st.avail)
}

func (s *Sink) exclusiveVerifier(rel string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exclusive[rel]
}

func (s *Sink) rememberExclusive(rel string, verf []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exclusive[rel] = append([]byte(nil), verf...)
}

// ErrNoClientAllowed: the configuration lets no client mount (no Allow
// prefix and not AllowAny).
var ErrNoClientAllowed = errors.New("sink config: no client may mount: allow the ESXi host's address (a CIDR), or any")

// ErrNotOpen means a file has no open tracker (never written in this run,
// or already finalized).
var ErrNotOpen = errors.New("file is not being received")

// newTracker hashes the file's whole-stream digests as it arrives; its
// piece hashes are taken in the at-rest pass at finalization, which reads
// every byte anyway, so no second SHA-256 pass runs on the ingest path.
func (s *Sink) newTracker(rel string, f *os.File, size int64) *tracker {
	return &tracker{rel: rel, f: f, algs: s.cfg.Hash, created: time.Now(), size: size, space: s.space,
		dig: digest.New(s.cfg.Hash, 0)}
}

// adoptCreated starts tracking a file CREATE just made.
func (s *Sink) adoptCreated(rel string, f *os.File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.trackers[rel]; ok && !old.done {
		f.Close()
		return
	}
	s.trackers[rel] = s.newTracker(rel, f, 0)
}

// trackerFor returns the tracker a WRITE to rel goes through, opening the
// file when needed. Lock files get (nil, NFS3_OK).
func (s *Sink) trackerFor(rel string) (*tracker, uint32) {
	if s.scratch.match(path.Base(rel)) {
		return nil, nfs3OK
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.trackers[rel]; ok && !t.done {
		return t, nfs3OK
	}
	if rel == "" {
		return nil, nfs3ErrIsDir
	}
	f, err := s.root.OpenFile(filepath.FromSlash(rel), os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nfs3ErrStale
		}
		fi, serr := s.root.Stat(filepath.FromSlash(rel))
		if serr == nil && fi.IsDir() {
			return nil, nfs3ErrIsDir
		}
		return nil, nfs3ErrIO
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil && fi.IsDir() {
			return nil, nfs3ErrIsDir
		}
		return nil, nfs3ErrInval
	}
	t := s.newTracker(rel, f, fi.Size())
	if fi.Size() > 0 {
		// Bytes already on disk were not seen arriving by this process:
		// hash the whole file from disk at finalization, and say why.
		reason := "file already held data when this sink process first saw a write to it (sink restart)"
		if _, ok := s.finalized[rel]; ok {
			reason = "write after the file was finalized"
			t.anomaly("%s", reason)
		}
		t.rehash = true
		s.record(custody.TypeFileResumed, custody.FileResumed{Path: rel, SizeOnDisk: fi.Size(), Reason: reason})
	}
	s.trackers[rel] = t
	return t, nfs3OK
}

func (s *Sink) openTracker(rel string) *tracker {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.trackers[rel]; ok && !t.done {
		return t
	}
	return nil
}

func (s *Sink) activeTrackers() []*tracker {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*tracker, 0, len(s.trackers))
	for _, t := range s.trackers {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out
}

// Finalize syncs rel, completes its hashes, records them and closes the
// file. expectedSize < 0 means no expectation. Finalizing an open file
// always re-reads the synced file once: that pass checks the strongest
// hash at rest against the hash on arrival and takes the piece hashes. A
// later write reopens the file as an anomaly. For a file already
// finalized (by the idle timer, say), the recorded result is returned;
// atRest asks for an at-rest check of it when it has none (one stopped by
// a context, or a file taken up after a restart).
//
// ctx stops the re-reads of the file from disk (a re-hash, the at-rest
// check), which take as long as reading the whole image. Stopped in the
// at-rest check, the file is finalized and recorded without at-rest
// hashes; stopped in a re-hash, nothing is recorded and a later Finalize
// takes the file up from disk. Either way the error wraps ctx's.
func (s *Sink) Finalize(ctx context.Context, rel, reason string, expectedSize int64, atRest bool) (custody.FileFinalized, error) {
	if err := s.custodyBroken(); err != nil {
		return custody.FileFinalized{}, fmt.Errorf("finalize %s: %w", rel, err)
	}
	s.mu.Lock()
	t, open := s.trackers[rel]
	if open {
		delete(s.trackers, rel)
	}
	prev, done := s.finalized[rel]
	s.mu.Unlock()
	if !open && !done {
		// A file on disk that this process never saw arrive (the sink was
		// restarted and the host never wrote again): take it up from disk,
		// which records why its hashes come from disk.
		if err := hashlog.CheckEvidencePath(rel); err != nil {
			return custody.FileFinalized{}, fmt.Errorf("finalize %s: %w", rel, err)
		}
		var status uint32
		if t, status = s.trackerFor(rel); status != nfs3OK || t == nil {
			return custody.FileFinalized{}, fmt.Errorf("finalize %s: %w", rel, ErrNotOpen)
		}
		s.mu.Lock()
		delete(s.trackers, rel)
		s.mu.Unlock()
		open = true
	}
	if !open {
		if expectedSize < 0 && !atRest {
			return prev, nil
		}
		return s.recheck(ctx, prev, reason, expectedSize, atRest)
	}
	res, err := t.finalize(ctx, reason, expectedSize, s.cfg.PieceSize)
	if errors.Is(err, errAtRestStopped) {
		s.remember(res)
		return res, fmt.Errorf("finalize %s: %w", rel, err)
	}
	if err != nil && ctx.Err() != nil {
		return res, fmt.Errorf("finalize %s: %w", rel, err)
	}
	if err != nil {
		s.record(custody.TypeWriteError, custody.WriteAnomaly{Path: rel, Kind: "finalize: " + err.Error()})
		return res, fmt.Errorf("finalize %s: %w", rel, err)
	}
	s.remember(res)
	s.log.Info("file finalized", "path", rel, "size", res.Size, "reason", reason, "md5", res.Hashes["md5"], "sha256", res.Hashes["sha256"])
	return res, nil
}

func (s *Sink) remember(res custody.FileFinalized) {
	s.mu.Lock()
	s.finalized[res.Path] = res
	s.mu.Unlock()
	s.record(custody.TypeFileFinalized, res)
}

// recheck re-examines a file finalized earlier against a new request's
// expectations and records the outcome as a new file.finalized record.
func (s *Sink) recheck(ctx context.Context, prev custody.FileFinalized, reason string, expectedSize int64, atRest bool) (custody.FileFinalized, error) {
	out := prev
	out.Reason = reason
	out.Anomalies = slices.Clone(prev.Anomalies)
	if atRest && len(prev.AtRest) == 0 && len(prev.Hashes) > 0 {
		disk, err := s.hashAtRest(ctx, prev.Path)
		if err != nil {
			return prev, fmt.Errorf("finalize %s: hash at rest: %w", prev.Path, err)
		}
		out.AtRest = disk.Sums
		if len(prev.Pieces) == 0 {
			// The pieces are taken with the at-rest check; one stopped
			// before it ended left none.
			out.PieceSize, out.PieceAlgorithm, out.Pieces = disk.PieceSize, disk.PieceAlgorithm, disk.Pieces
		}
		if !disk.Equal(hashlog.FinalizedResult(prev)) {
			out.Anomalies = append(out.Anomalies, "hash at rest differs from hash on arrival")
		}
	}
	if expectedSize >= 0 && expectedSize != prev.Size {
		out.Anomalies = append(out.Anomalies, fmt.Sprintf("expected %d bytes, file has %d", expectedSize, prev.Size))
	}
	s.remember(out)
	return out, nil
}

// custodyBroken returns the error that stops evidence from being accepted
// after the custody log failed, nil while it works.
func (s *Sink) custodyBroken() error {
	if p := s.logFailed.Load(); p != nil {
		return fmt.Errorf("%w: %v", ErrCustodyLog, *p)
	}
	return nil
}
