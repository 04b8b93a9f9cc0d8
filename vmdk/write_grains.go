package vmdk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// ExtentWriter is what every sparse writer offers: random-access writes
// in guest byte offsets, explicit zeroing, Flush, which writes the
// metadata so the file is consistent as it stands, and Close. Writers are
// not safe for concurrent use.
type ExtentWriter interface {
	io.WriterAt
	// WriteZeroes makes [off, off+n) read as zeros, with the format's zero
	// grains where it has them.
	WriteZeroes(off, n int64) error
	// Flush writes the grain tables and headers: after it the file on disk
	// is a complete, readable extent (as ESXi keeps its files while a VM
	// runs), and writing may continue.
	Flush() error
	Close() error
}

// grainStore is the format-specific half of a sparse writer.
type grainStore interface {
	// state reports grain g: Data with its byte offset in the file, or
	// Zero, or Unallocated.
	state(g int64) (State, int64)
	// allocate assigns file space to grain g and returns its byte offset.
	allocate(g int64) (int64, error)
	// mark records grain g as zero (unmapped: as SCSI-unmapped); false
	// when the format cannot express it.
	mark(g int64, unmapped bool) bool
}

// grainWriter does copy-on-write for the sparse writers: a grain written
// in part is first filled with what the disk showed there (this file's
// grain, zeros, or the parent's bytes), as ESXi does.
type grainWriter struct {
	f       *os.File
	name    string
	gb      int64 // grain bytes
	size    int64 // guest bytes
	parent  io.ReaderAt
	store   grainStore
	scratch []byte
	crc     uint32 // CRC-32 over every operation, to derive a CID
	ops     int64
	err     error // sticky: after a failure the file is not trustworthy
	closed  bool
}

// flushWith writes the extent's metadata with finish, so the file is
// complete as it stands, and keeps it open for more writes.
func (w *grainWriter) flushWith(finish func() error) error {
	if w.closed {
		return fmt.Errorf("vmdk: %s: flush after close", w.name)
	}
	return finish()
}

// closeWith writes the metadata with finish and closes the file; later
// calls do nothing.
func (w *grainWriter) closeWith(finish func() error) error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := finish()
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("vmdk: close %s: %w", w.name, cerr)
	}
	return err
}

func newGrainWriter(f *os.File, gb, size int64, parent io.ReaderAt, store grainStore) *grainWriter {
	return &grainWriter{f: f, name: f.Name(), gb: gb, size: size, parent: parent, store: store,
		scratch: make([]byte, gb)}
}

func (w *grainWriter) check(off, n int64) error {
	if w.err != nil {
		return w.err
	}
	if off < 0 || n < 0 || off > w.size || n > w.size-off {
		return fmt.Errorf("vmdk: %s: write of %d bytes at byte %d is outside the disk (%d bytes)", w.name, n, off, w.size)
	}
	return nil
}

func (w *grainWriter) note(kind byte, off, n int64, p []byte) {
	var b [17]byte
	b[0] = kind
	binary.LittleEndian.PutUint64(b[1:], uint64(off))
	binary.LittleEndian.PutUint64(b[9:], uint64(n))
	w.crc = crc32.Update(w.crc, crc32.IEEETable, b[:])
	w.crc = crc32.Update(w.crc, crc32.IEEETable, p)
	w.ops++
}

// WriteAt writes p at guest byte off.
func (w *grainWriter) WriteAt(p []byte, off int64) (int, error) {
	if err := w.check(off, int64(len(p))); err != nil {
		return 0, err
	}
	w.note('w', off, int64(len(p)), p)
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		g, in := pos/w.gb, pos%w.gb
		n := int(min(int64(len(p)-done), w.gb-in))
		if err := w.writeGrain(g, in, p[done:done+n]); err != nil {
			w.err = err
			return done, err
		}
		done += n
	}
	return done, nil
}

func (w *grainWriter) writeGrain(g, in int64, p []byte) error {
	st, fo := w.store.state(g)
	if st == Data {
		return w.pwrite(p, fo+in)
	}
	buf := w.scratch
	if int64(len(p)) < w.gb {
		switch {
		case st == Zero || w.parent == nil:
			clear(buf)
		default:
			n, err := w.parent.ReadAt(buf, g*w.gb)
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("vmdk: %s: copy-on-write read of the parent at byte %d: %w", w.name, g*w.gb, err)
			}
			clear(buf[n:])
		}
	}
	copy(buf[in:], p)
	fo, err := w.store.allocate(g)
	if err != nil {
		return err
	}
	return w.pwrite(buf, fo)
}

func (w *grainWriter) pwrite(p []byte, off int64) error {
	if _, err := w.f.WriteAt(p, off); err != nil {
		return fmt.Errorf("vmdk: write %s: %w", w.name, err)
	}
	return nil
}

// WriteZeroes implements ExtentWriter.
func (w *grainWriter) WriteZeroes(off, n int64) error { return w.zero(off, n, false) }

// zero marks whole grains zero (or unmapped) where the format allows and
// writes zeros elsewhere.
func (w *grainWriter) zero(off, n int64, unmapped bool) error {
	if err := w.check(off, n); err != nil {
		return err
	}
	kind := byte('z')
	if unmapped {
		kind = 'u'
	}
	w.note(kind, off, n, nil)
	end := off + n
	for off < end {
		g, in := off/w.gb, off%w.gb
		k := min(end-off, w.gb-in)
		whole := in == 0 && (k == w.gb || off+k == w.size)
		if !(whole && w.store.mark(g, unmapped)) {
			if err := w.writeGrain(g, in, make([]byte, k)); err != nil {
				w.err = err
				return err
			}
		}
		off += k
	}
	return nil
}

// contentCID derives a CID from everything written, so the same writes
// give the same CID and different writes (almost surely) differ. With no
// writes the CID is the parent's: ESXi changes a delta's CID only when it
// is first written.
func (w *grainWriter) contentCID(parentCID uint32) uint32 {
	if w.ops == 0 {
		return parentCID
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], parentCID)
	c := crc32.Update(w.crc, crc32.IEEETable, b[:])
	if c == parentCID || c == NoParentCID || c == 0xfffffffe {
		c ^= 0x5a5a5a5a
	}
	return c
}

// Every writer offers the ExtentWriter methods (WriteAt and WriteZeroes
// come from the embedded grainWriter).
var (
	_ ExtentWriter = (*COWDWriter)(nil)
	_ ExtentWriter = (*SESparseWriter)(nil)
	_ ExtentWriter = (*SparseWriter)(nil)
	_ ExtentWriter = (*DeltaWriter)(nil)
)
