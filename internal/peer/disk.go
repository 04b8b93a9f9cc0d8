package peer

import (
	"os"
	"path/filepath"
	"testing"
)

// SettleDisk puts dir's file system in the same state before each timed
// contender of a bench: everything flushed, then size bytes written to a
// scratch file and removed unflushed. On the shared VMs these benches run
// on, buffered writes into pages the kernel has not used lately cost
// 2.6 s of system time per GiB, into pages just freed 0.2 s (dd of 1 GiB,
// measured on this machine): without this, whichever contender happens
// to follow a removal looks 10x cheaper in the kernel, ours or the peer.
func SettleDisk(tb testing.TB, dir string, size int64) {
	tb.Helper()
	syncAll()
	f, err := os.CreateTemp(dir, ".settle-*")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		if _, err := f.Write(buf[:min(int64(len(buf)), left)]); err != nil {
			tb.Fatalf("settle %s: %v", filepath.Dir(f.Name()), err)
		}
	}
}
