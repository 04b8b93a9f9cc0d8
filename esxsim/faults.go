package esxsim

import (
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/esxsink/esxsink/internal/nfsclient"
)

// Fault kinds.
const (
	// FaultBadSectors makes reads of [Offset, Offset+Length) of Path fail
	// with EIO (dd: Input/output error).
	FaultBadSectors = "bad_sectors"
	// FaultSSHDrop cuts an SSH connection once AfterBytes of command output
	// have been sent on it (Times connections; default 1); with Command,
	// instead, when a command line starting with Command has run, before
	// its output and exit status reach the client (the command's effect
	// happened, the client cannot know).
	FaultSSHDrop = "ssh_drop"
	// FaultSinkUnreachable makes NFS mounts fail as if the server did not
	// answer; with AfterBytes, a mount loses its server after that many
	// bytes were written through it.
	FaultSinkUnreachable = "sink_unreachable"
	// FaultNFSWriteError fails a WRITE once AfterBytes were written through
	// a mount, with Status (default NFS3ERR_IO).
	FaultNFSWriteError = "nfs_write_error"
	// FaultSlowIO delays reads and writes of files matching Path: Rate
	// bytes per second and/or Delay per operation.
	FaultSlowIO = "slow_io"
	// FaultSnapshotCreate makes vmsvc/snapshot.create fail for VM (name
	// or id; empty: any) Times times (default 1).
	FaultSnapshotCreate = "snapshot_create_fail"
	// FaultUnmountBusy makes esxcfg-nas -d / esxcli storage nfs remove
	// report Busy Times times (default 1).
	FaultUnmountBusy = "unmount_busy"
	// FaultChangingData changes [Offset, Offset+Length) of Path every time
	// the file is opened, as a running VM's disk changes between reads.
	FaultChangingData = "changing_data"
	// FaultGrowingFile appends Length bytes to Path (a glob) every time
	// the file is opened for reading (dd, cat, md5sum, an SFTP read, and
	// Host.ReadFile), and moves its mtime on: a file that grows while it
	// is copied, as a running VM's vmware.log does.
	FaultGrowingFile = "growing_file"
	// FaultRDMQueryFail makes vmkfstools -q (--queryrdm) fail for the
	// descriptors matching Path (a glob; empty: any) with Message (default
	// "Failed to open disk NAME: Device or resource busy") and exit status
	// 1: the device behind a raw device mapping cannot be learned.
	FaultRDMQueryFail = "rdm_query_fail"
)

// Fault is one injected failure. Times 0 means the default for the kind
// (1 for one-shot faults, unlimited for bad_sectors, slow_io,
// changing_data, growing_file, rdm_query_fail and an unconditional
// sink_unreachable).
type Fault struct {
	Kind       string        `yaml:"kind"`
	Path       string        `yaml:"path"`
	VM         string        `yaml:"vm"`
	Offset     Size          `yaml:"offset"`
	Length     Size          `yaml:"length"`
	AfterBytes Size          `yaml:"after_bytes"`
	Times      int           `yaml:"times"`
	Rate       Size          `yaml:"rate"`
	Delay      time.Duration `yaml:"delay"`
	Status     string        `yaml:"status"`
	Message    string        `yaml:"message"`
	Command    string        `yaml:"command"`
}

func (f Fault) validate() error {
	switch f.Kind {
	case FaultBadSectors, FaultChangingData, FaultGrowingFile:
		if f.Path == "" || f.Length <= 0 {
			return fmt.Errorf("fault %s needs path: and length:", f.Kind)
		}
	case FaultSlowIO:
		if f.Path == "" || (f.Rate <= 0 && f.Delay <= 0) {
			return fmt.Errorf("fault %s needs path: and rate: or delay:", f.Kind)
		}
	case FaultSSHDrop:
		if (f.AfterBytes <= 0) == (f.Command == "") {
			return fmt.Errorf("fault %s needs after_bytes: or command:", f.Kind)
		}
	case FaultNFSWriteError:
		if _, ok := nfsStatusByName(f.Status); !ok {
			return fmt.Errorf("fault %s: unknown status %q", f.Kind, f.Status)
		}
	case FaultSinkUnreachable, FaultSnapshotCreate, FaultUnmountBusy, FaultRDMQueryFail:
	default:
		return fmt.Errorf("unknown fault kind %q", f.Kind)
	}
	return nil
}

func nfsStatusByName(s string) (nfsclient.Status, bool) {
	switch strings.ToUpper(strings.TrimPrefix(strings.ToUpper(s), "NFS3ERR_")) {
	case "", "IO":
		return nfsclient.ErrIO, true
	case "NOSPC":
		return nfsclient.ErrNoSpc, true
	case "ACCES":
		return nfsclient.ErrAcces, true
	case "STALE":
		return nfsclient.ErrStale, true
	case "ROFS":
		return nfsclient.ErrROFS, true
	case "DQUOT":
		return nfsclient.ErrDQuot, true
	case "SERVERFAULT":
		return nfsclient.ErrServerFault, true
	}
	return 0, false
}

// activeFault is a fault with its counters.
type activeFault struct {
	Fault
	fired int
	opens int // changing_data: opens so far
}

// spent reports whether a counted fault has fired its Times.
func (a *activeFault) spent() bool {
	times := a.Times
	if times == 0 {
		switch a.Kind {
		case FaultBadSectors, FaultSlowIO, FaultChangingData, FaultGrowingFile, FaultRDMQueryFail:
			return false
		case FaultSinkUnreachable:
			if a.AfterBytes == 0 {
				return false
			}
		}
		times = 1
	}
	return a.fired >= times
}

// faultSet holds the host's faults; tests add and clear them at run time.
type faultSet struct {
	mu    sync.Mutex
	list  []*activeFault
	canon func(string) string // resolves a scenario path to the host's
	sleep func(time.Duration)
}

func (s *faultSet) add(f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	if s.canon != nil && f.Path != "" {
		f.Path = s.canon(f.Path)
	}
	s.mu.Lock()
	s.list = append(s.list, &activeFault{Fault: f})
	s.mu.Unlock()
	return nil
}

func (s *faultSet) clear(kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.list[:0]
	for _, a := range s.list {
		if kind != "" && a.Kind != kind {
			out = append(out, a)
		}
	}
	s.list = out
}

func (s *faultSet) fired() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for _, a := range s.list {
		m[a.Kind] += a.fired
	}
	return m
}

// take fires the first unspent fault of kind that match accepts.
func (s *faultSet) take(kind string, match func(*activeFault) bool) *activeFault {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.list {
		if a.Kind == kind && !a.spent() && (match == nil || match(a)) {
			a.fired++
			return a
		}
	}
	return nil
}

func pathMatches(pattern, p string) bool {
	if pattern == p {
		return true
	}
	ok, _ := path.Match(pattern, p)
	return ok
}

// wrapRead applies read faults to a file being opened at resolved path p.
func (s *faultSet) wrapRead(p string, c content) content {
	if s == nil || c == nil {
		return c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.list {
		if !pathMatches(a.Path, p) {
			continue
		}
		switch a.Kind {
		case FaultBadSectors:
			c = &badSectors{c: c, off: int64(a.Offset), n: int64(a.Length), a: a, s: s}
		case FaultChangingData:
			if a.opens > 0 {
				a.fired++
				c = &changing{c: c, off: int64(a.Offset), n: int64(a.Length), epoch: uint64(a.opens)}
			}
			a.opens++
		case FaultSlowIO:
			c = &slowContent{c: c, rate: int64(a.Rate), delay: a.Delay, s: s, a: a}
		}
	}
	return c
}

// beforeWrite delays writes to slow paths.
func (s *faultSet) beforeWrite(p string, n int) error {
	if s == nil {
		return nil
	}
	var d time.Duration
	s.mu.Lock()
	for _, a := range s.list {
		if a.Kind == FaultSlowIO && pathMatches(a.Path, p) {
			a.fired++
			d += a.Delay
			if a.Rate > 0 {
				d += time.Duration(int64(n) * int64(time.Second) / int64(a.Rate))
			}
		}
	}
	s.mu.Unlock()
	if d > 0 {
		s.sleep(d)
	}
	return nil
}

type badSectors struct {
	c      content
	off, n int64
	a      *activeFault
	s      *faultSet
}

func (b *badSectors) Size() int64 { return b.c.Size() }
func (b *badSectors) ReadAt(p []byte, off int64) (int, error) {
	if off < b.off+b.n && off+int64(len(p)) > b.off && off < b.c.Size() {
		b.s.mu.Lock()
		b.a.fired++
		b.s.mu.Unlock()
		return 0, syscall.EIO
	}
	return b.c.ReadAt(p, off)
}

type changing struct {
	c      content
	off, n int64
	epoch  uint64
}

func (c *changing) Size() int64 { return c.c.Size() }
func (c *changing) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.c.ReadAt(p, off)
	lo, hi := max(off, c.off), min(off+int64(n), c.off+c.n)
	for i := lo; i < hi; i++ {
		p[i-off] ^= byte(splitmix(c.epoch*0x100000001b3^uint64(i/8)) >> (8 * (i % 8)))
	}
	return n, err
}

type slowContent struct {
	c     content
	rate  int64
	delay time.Duration
	s     *faultSet
	a     *activeFault
}

func (sc *slowContent) Size() int64 { return sc.c.Size() }
func (sc *slowContent) ReadAt(p []byte, off int64) (int, error) {
	d := sc.delay
	if sc.rate > 0 {
		d += time.Duration(int64(len(p)) * int64(time.Second) / sc.rate)
	}
	sc.s.mu.Lock()
	sc.a.fired++
	sc.s.mu.Unlock()
	sc.s.sleep(d)
	return sc.c.ReadAt(p, off)
}

// AddFault injects a fault at run time (a scenario's faults: are added at
// start).
func (h *Host) AddFault(f Fault) error { return h.faults.add(f) }

// ClearFaults removes the faults of a kind ("" removes all).
func (h *Host) ClearFaults(kind string) { h.faults.clear(kind) }

// FaultsFired counts, per kind, how often faults have fired: a test can
// check that the failure it injected really happened.
func (h *Host) FaultsFired() map[string]int { return h.faults.fired() }

// grow applies growing_file faults to node n, opened for reading at
// resolved path p: the bytes land before the reader sees the file, so a
// copy that measured the file first reads fewer bytes than it now holds.
func (s *faultSet) grow(v *vfs, p string, n *node) {
	if s == nil || n.data == nil {
		return
	}
	var add int64
	s.mu.Lock()
	for _, a := range s.list {
		if a.Kind == FaultGrowingFile && !a.spent() && pathMatches(a.Path, p) {
			a.fired++
			add += int64(a.Length)
		}
	}
	s.mu.Unlock()
	if add > 0 {
		v.appendTo(n, growingBytes(v.now(), add))
	}
}

// growingBytes is what a growing_file fault appends: log lines, cut to n
// bytes.
func growingBytes(now time.Time, n int64) []byte {
	line := now.UTC().Format("2006-01-02T15:04:05.000Z") + " In(05) vcpu-0 - the guest wrote on while the file was read\n"
	b := make([]byte, 0, n+int64(len(line)))
	for int64(len(b)) < n {
		b = append(b, line...)
	}
	return b[:n]
}

// appendTo appends b to n's content and moves its mtime on. Content the
// shell may write grows in place; other content (a generated disk) is
// wrapped.
func (v *vfs) appendTo(n *node, b []byte) {
	wc, writable := n.data.(writableContent)
	if writable {
		if _, err := wc.WriteAt(b, wc.Size()); err != nil {
			writable = false
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if !writable {
		n.data = appendedContent(n.data, b)
	}
	n.mtime = v.now()
}

// appended is content with bytes added after its end.
type appended struct {
	c     content
	extra []byte
}

// appendedContent returns c followed by b; c is not changed, so readers
// that opened the file before keep their view.
func appendedContent(c content, b []byte) content {
	if a, ok := c.(*appended); ok {
		return &appended{c: a.c, extra: append(append([]byte(nil), a.extra...), b...)}
	}
	return &appended{c: c, extra: append([]byte(nil), b...)}
}

func (a *appended) Size() int64 { return a.c.Size() + int64(len(a.extra)) }

func (a *appended) ReadAt(p []byte, off int64) (int, error) {
	base := a.c.Size()
	n := 0
	if off < base {
		var err error
		n, err = a.c.ReadAt(p[:min(int64(len(p)), base-off)], off)
		if err != nil && err != io.EOF {
			return n, err
		}
		if off+int64(n) < base {
			return n, err
		}
	}
	rel := off + int64(n) - base
	if rel >= int64(len(a.extra)) {
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	m := copy(p[n:], a.extra[rel:])
	if n+m < len(p) {
		return n + m, io.EOF
	}
	return n + m, nil
}
