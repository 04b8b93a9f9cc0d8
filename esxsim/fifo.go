package esxsim

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"syscall"
)

// fifoContent is a named pipe (mkfifo). As on Linux, opening one end waits
// until the other end is opened too; the readers see EOF once every writer
// has closed, and writers fail with EPIPE once every reader has closed.
// esxi.CmdCopy relies on this to hash one stream twice: tee writes the FIFO
// that a background sha256sum reads.
type fifoContent struct {
	mu  sync.Mutex
	cur *fifoCycle
}

// fifoCycle is one rendezvous of readers and writers over one pipe; the
// next open after both sides have gone starts a new one.
type fifoCycle struct {
	pr               *io.PipeReader
	pw               *io.PipeWriter
	readers, writers int
	rSeen, wSeen     bool
	ready            chan struct{}
}

func (*fifoContent) Size() int64                       { return 0 }
func (*fifoContent) ReadAt([]byte, int64) (int, error) { return 0, io.EOF }

// open opens one end and waits for the other, or for ctx.
func (c *fifoContent) open(ctx context.Context, write bool) (*fifoEnd, error) {
	c.mu.Lock()
	cy := c.cur
	if cy == nil || (cy.rSeen && cy.wSeen && cy.readers == 0 && cy.writers == 0) {
		pr, pw := io.Pipe()
		cy = &fifoCycle{pr: pr, pw: pw, ready: make(chan struct{})}
		c.cur = cy
	}
	if write {
		cy.writers++
		cy.wSeen = true
	} else {
		cy.readers++
		cy.rSeen = true
	}
	if cy.rSeen && cy.wSeen {
		select {
		case <-cy.ready:
		default:
			close(cy.ready)
		}
	}
	c.mu.Unlock()
	end := &fifoEnd{c: c, cy: cy, write: write}
	select {
	case <-cy.ready:
		return end, nil
	case <-ctx.Done():
		end.Close()
		return nil, syscall.EINTR
	}
}

// fifoEnd is one open end of a FIFO.
type fifoEnd struct {
	c     *fifoContent
	cy    *fifoCycle
	write bool
	once  sync.Once
}

func (e *fifoEnd) Read(p []byte) (int, error) { return e.cy.pr.Read(p) }

func (e *fifoEnd) Write(p []byte) (int, error) {
	n, err := e.cy.pw.Write(p)
	if err != nil {
		err = syscall.EPIPE
	}
	return n, err
}

// Close closes this end; the last writer gives the readers EOF and the
// last reader gives the writers EPIPE.
func (e *fifoEnd) Close() error {
	e.once.Do(func() {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		if e.write {
			if e.cy.writers--; e.cy.writers == 0 {
				e.cy.pw.Close()
			}
		} else if e.cy.readers--; e.cy.readers == 0 {
			e.cy.pr.Close()
		}
	})
	return nil
}

// cmdMkfifo is busybox mkfifo [-m MODE] NAME...: a named pipe on the
// host's own file system (the NFS sink takes no special files).
func cmdMkfifo(e *env) int {
	perm := fs.FileMode(0o644) // 0666 less ESXi's umask 022
	var names []string
	args := e.args[1:]
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-m" && i+1 < len(args):
			var m uint32
			if _, err := fmt.Sscanf(args[i+1], "%o", &m); err != nil || m > 0o7777 {
				e.errf("invalid mode '%s'", args[i+1])
				return 1
			}
			perm = fs.FileMode(m).Perm()
			i++
		case strings.HasPrefix(a, "-") && a != "-" && names == nil:
			e.errf("invalid option -- '%s'", strings.TrimLeft(a, "-"))
			return 1
		default:
			names = append(names, a)
		}
	}
	if len(names) == 0 {
		fmt.Fprintln(e.stderr, "BusyBox multi-call binary.\n\nUsage: mkfifo [-m MODE] NAME")
		return 1
	}
	code := 0
	for _, n := range names {
		if err := e.h.mkfifo(e.abs(n), perm); err != nil {
			e.errf("can't create fifo '%s': %s", n, strerror(err))
			code = 1
		}
	}
	return code
}

// mkfifo makes a named pipe at p.
func (h *Host) mkfifo(p string, perm fs.FileMode) error {
	dir, name := path.Split(p)
	l, err := h.fs.resolve(dir, true)
	if err != nil {
		return pathErr("mkfifo", p, errnoOf(err))
	}
	if l.m != nil {
		return pathErr("mkfifo", p, syscall.EPERM)
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if !l.n.isDir() {
		return pathErr("mkfifo", p, syscall.ENOTDIR)
	}
	if _, ok := l.n.kids[name]; ok {
		return pathErr("mkfifo", p, syscall.EEXIST)
	}
	if l.n.blockDev || l.n.path() == "/" || l.n.path() == "/bin" || l.n.path() == "/vmfs/volumes" || l.n.path() == "/vmfs/devices/disks" {
		return pathErr("mkfifo", p, syscall.EPERM)
	}
	h.fs.addLocked(l.n, &node{name: name, mode: fs.ModeNamedPipe | perm, mtime: h.fs.now(), data: &fifoContent{}})
	return nil
}
