//go:build !linux

package vmdk

import (
	"os"
	"testing"
)

// allocatedBytes cannot see holes here; it reports the size.
func allocatedBytes(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// dataRanges treats the whole file as data.
func dataRanges(t testing.TB, f *os.File, size int64) [][2]int64 { return [][2]int64{{0, size}} }

// syncAll is sync(2) where there is one; the benchmarks it serves run on
// Linux.
func syncAll() {}
