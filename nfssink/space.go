package nfssink

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// space is a file system's capacity as FSSTAT reports it.
type space struct {
	total, free, avail uint64
	files, freeFiles   uint64
}

// spaceGuard answers NOSPC while some room is still left, so that the
// custody log (usually on the same disk) can always record the refusal and
// what follows. Free space is re-read at most every refresh interval, and
// on every write once it gets close to the reserve.
type spaceGuard struct {
	dir     string
	reserve int64

	mu      sync.Mutex
	avail   int64
	checked time.Time
}

const spaceRefresh = 250 * time.Millisecond

// ErrNoSpace is in the chain of every error Receive returns because the
// evidence disk is full, whether the disk said so or the space kept for
// the custody log would have been used.
var ErrNoSpace = errors.New("the evidence disk is full")

// errReserve is the NOSPC the guard gives before the disk is really full.
var errReserve = fmt.Errorf("%w (space kept for the custody log)", ErrNoSpace)

// admit reports whether growing a file by n bytes keeps the reserve free.
func (g *spaceGuard) admit(n int64) error {
	if g == nil || n <= 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	if now.Sub(g.checked) > spaceRefresh || g.avail-n < 2*g.reserve {
		if sp, err := diskSpace(g.dir); err == nil {
			g.avail, g.checked = int64(sp.avail), now
		}
	}
	if g.avail-n < g.reserve {
		return errReserve
	}
	g.avail -= n
	return nil
}

// isNoSpace reports whether err means the evidence disk is full.
func isNoSpace(err error) bool { return errors.Is(err, errReserve) || osNoSpace(err) }

// FreeSpace is the space available to unprivileged writers on the file
// system holding dir, for planning an acquisition.
func FreeSpace(dir string) (int64, error) {
	sp, err := diskSpace(dir)
	return int64(sp.avail), err
}
