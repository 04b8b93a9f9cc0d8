package vmdk

import (
	"errors"
	"os"
	"syscall"
)

// Linux lseek whence values for sparse files.
const (
	seekData = 3
	seekHole = 4
)

// holeAt reports, for byte pos of f, whether it lies in a hole and how
// far the hole (or the data) extends. ok is false when the file system
// cannot tell (the caller then treats the bytes as data).
func holeAt(f *os.File, pos int64) (hole bool, end int64, ok bool) {
	d, err := f.Seek(pos, seekData)
	switch {
	case errors.Is(err, syscall.ENXIO):
		st, err := f.Stat()
		if err != nil {
			return false, 0, false
		}
		return true, st.Size(), true // a hole up to the end of the file
	case err != nil:
		return false, 0, false
	case d > pos:
		return true, d, true
	}
	h, err := f.Seek(pos, seekHole)
	if err != nil || h <= pos {
		return false, 0, false
	}
	return false, h, true
}

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writeback of the
// range without waiting for it.
const syncFileRangeWrite = 2

// startWriteback asks the kernel to begin writing [off, off+n) of f to
// disk now, so that writeback overlaps the rest of a conversion and the
// final fsync has little left to do. Failure only costs that overlap.
func startWriteback(f *os.File, off, n int64) {
	syscall.SyncFileRange(int(f.Fd()), off, n, syncFileRangeWrite)
}
