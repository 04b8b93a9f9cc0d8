//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package hashlog

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockPatience is how long Open waits for a custody log's lock before it
// says another process has the log.
const lockPatience = time.Second

// lockFile takes an exclusive advisory lock on the open log so that a
// second writer (another sink on the same case) fails at Open instead of
// forking the chain. The lock goes away with the file descriptor, also when
// the process dies.
//
// A lock that is held is tried again for up to lockPatience: a child this
// process forks (ssh, hashdeep, ...) holds a copy of every descriptor
// until its exec closes them, so a log this process closed a moment ago
// can still be locked for that moment. Another writer holds it for its
// whole run, far longer.
func lockFile(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	var lerr error
	deadline := time.Now().Add(lockPatience)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		if err := rc.Control(func(fd uintptr) {
			lerr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
		}); err != nil {
			return fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		if !errors.Is(lerr, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			break
		}
		time.Sleep(wait)
	}
	if errors.Is(lerr, syscall.EWOULDBLOCK) {
		return fmt.Errorf("%s: %w", f.Name(), ErrLogLocked)
	}
	if lerr != nil {
		return fmt.Errorf("lock %s: %w", f.Name(), lerr)
	}
	return nil
}

// syncDir makes a newly created entry in dir durable; on POSIX systems a
// file's own fsync does not cover its directory entry.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}
