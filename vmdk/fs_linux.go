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
