package vmdk

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// allocatedBytes is the space a file really occupies on disk.
func allocatedBytes(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Blocks * 512
}

// dataRanges lists a file's data ranges with SEEK_DATA/SEEK_HOLE.
func dataRanges(t testing.TB, f *os.File, size int64) [][2]int64 {
	t.Helper()
	const seekData, seekHole = 3, 4
	var out [][2]int64
	for off := int64(0); off < size; {
		start, err := f.Seek(off, seekData)
		if errors.Is(err, syscall.ENXIO) {
			break
		}
		if err != nil {
			return [][2]int64{{0, size}}
		}
		end, err := f.Seek(start, seekHole)
		if err != nil {
			return [][2]int64{{0, size}}
		}
		out = append(out, [2]int64{start, end})
		off = end
	}
	return out
}

// syncAll writes every file system's dirty data and journal (sync(2)).
func syncAll() { syscall.Sync() }
