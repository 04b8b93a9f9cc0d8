//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package hashlog

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestOpenWaitsOutAForkedCopy: a child forked by this process holds a
// copy of the log's descriptor, and with it the lock, until its exec;
// a log closed and opened again in that moment is not "open by another
// process". The copy here is a second open of the log, locked and
// released 20 ms later, as a slow exec would.
func TestOpenWaitsOutAForkedCopy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	held, err := os.Open(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(held.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(20*time.Millisecond, func() { held.Close() })
	l2, err := Open(dir)
	if err != nil {
		t.Fatalf("Open while a fork's copy held the lock for 20 ms: %v", err)
	}
	l2.Close()
}
