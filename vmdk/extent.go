package vmdk

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

// SectorSize is the unit of every VMDK size and offset.
const SectorSize = 512

// State is what one layer says about a run of guest bytes.
type State uint8

const (
	// Unallocated: never written in this layer; the parent answers, and
	// without a parent the bytes read as zeros.
	Unallocated State = iota
	// Zero: reads as zeros whatever the parent holds (a zeroed grain,
	// a ZERO extent, a seSparse zero or unmapped grain).
	Zero
	// Data: stored in this layer.
	Data
)

// String names the state: unallocated, zero or data.
func (s State) String() string {
	switch s {
	case Unallocated:
		return "unallocated"
	case Zero:
		return "zero"
	case Data:
		return "data"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText renders the state as its name in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// extent is one extent's data, addressed from the extent's first byte.
// Implementations are safe for concurrent use.
type extent interface {
	// mapRun reports the state of the byte at off and how many bytes from
	// off, at least 1 and at most n, share it.
	mapRun(off, n int64) (State, int64, error)
	// readData fills p from off. Every byte of [off, off+len(p)) lies in
	// Data runs.
	readData(p []byte, off int64) error
	// format describes the on-disk layout for Info.
	format() string
}

// flatExtent is raw data at a byte offset in a file: FLAT, VMFS, and
// device images for VMFSRDM/VMFSRAW.
type flatExtent struct {
	name     string
	r        io.ReaderAt
	base     int64 // byte offset of the extent's first byte in r
	fileSize int64
	kind     string
	// holes, when set, reports the file's holes (thin disks are copied as
	// sparse files): they read as zeros, so they need not be read at all.
	holes   *os.File
	noHoles atomic.Bool // the file system cannot report holes
}

func (e *flatExtent) mapRun(off, n int64) (State, int64, error) {
	pos := e.base + off
	if e.holes == nil || e.noHoles.Load() || pos >= e.fileSize {
		return Data, n, nil
	}
	hole, end, ok := holeAt(e.holes, pos)
	if !ok {
		e.noHoles.Store(true)
		return Data, n, nil
	}
	end = min(end, e.fileSize) // bytes past the end are a read error, not zeros
	if hole {
		return Zero, min(n, end-pos), nil
	}
	return Data, min(n, end-pos), nil
}

func (e *flatExtent) readData(p []byte, off int64) error {
	pos := e.base + off
	end := pos + int64(len(p))
	if end > e.fileSize {
		return corruptf("vmdk: %s is %d bytes but the extent needs bytes up to %d: the file is truncated (collect it again)", e.name, e.fileSize, end)
	}
	n, err := e.r.ReadAt(p, pos)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("vmdk: read %s at byte %d: %w", e.name, pos, err)
}

func (e *flatExtent) format() string { return e.kind }

// zeroExtent is a ZERO extent: no file, every byte reads as zero.
type zeroExtent struct{}

func (zeroExtent) mapRun(off, n int64) (State, int64, error) { return Zero, n, nil }
func (zeroExtent) readData(p []byte, off int64) error        { clear(p); return nil }
func (zeroExtent) format() string                            { return "zero" }

// noAccessExtent stands for a NOACCESS extent: the guest may not read
// it, so neither do we; an image with made-up bytes there would misstate
// what the disk holds.
type noAccessExtent struct {
	desc string
	line int
}

func (e noAccessExtent) mapRun(off, n int64) (State, int64, error) { return Data, n, nil }
func (e noAccessExtent) readData(p []byte, off int64) error {
	return unsupportedf("vmdk: %s line %d: the extent is NOACCESS; its data is not part of the readable disk", e.desc, e.line)
}
func (e noAccessExtent) format() string { return "no access" }

// readFull reads exactly len(p) bytes at off from r, or explains where the
// file ended.
func readFull(r io.ReaderAt, name string, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		return corruptf("vmdk: %s: reading %d bytes at byte %d: the file ends early (truncated?)", name, len(p), off)
	}
	return fmt.Errorf("vmdk: read %s at byte %d: %w", name, off, err)
}
