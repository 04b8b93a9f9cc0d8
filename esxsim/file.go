package esxsim

import (
	"io"
	"io/fs"
	"os"
	"path"
	"sync"
	"syscall"
)

// file is an open file of the simulated host: a local node's content, a
// device, or a file on an NFS volume. It implements what the shell and
// the applets need: sequential and positioned reads and writes, seeking.
type file struct {
	h    *Host
	path string
	name string
	r    content         // readable content
	w    writableContent // local writable content
	nw   *nfsFile        // NFS file opened for writing
	pos  int64
	flag int
	once sync.Once
	done func()
	// dev marks devices such as /dev/null whose writes vanish.
	discard bool
	// fifo is the open end of a named pipe, read and written as a stream.
	fifo *fifoEnd
}

// openFile opens p (absolute) with os.O_* flags, as open(2) would on the
// host, with ESXi's locks: a file a running VM holds fails with EBUSY.
func (h *Host) openFile(p string, flag int, perm fs.FileMode) (*file, error) {
	l, err := h.fs.resolve(p, true)
	create := flag&os.O_CREATE != 0
	if err != nil {
		if !create || errnoOf(err) != syscall.ENOENT {
			return nil, pathErr("open", p, errnoOf(err))
		}
		dir, name := path.Split(p)
		dl, derr := h.fs.resolve(dir, true)
		if derr != nil {
			return nil, pathErr("open", p, errnoOf(derr))
		}
		if dl.m != nil {
			return h.openNFS(dl.m, path.Join(dl.rel, name), p, flag)
		}
		return h.createLocal(dl.n, name, p, perm)
	}
	if l.m != nil {
		if l.rel == "" {
			if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
				return nil, pathErr("open", p, syscall.EISDIR)
			}
			return &file{h: h, path: p, name: path.Base(p), r: emptyContent{}}, nil
		}
		return h.openNFS(l.m, l.rel, p, flag)
	}
	n := l.n
	if create && flag&os.O_EXCL != 0 {
		return nil, pathErr("open", p, syscall.EEXIST)
	}
	if n.isDir() {
		if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			return nil, pathErr("open", p, syscall.EISDIR)
		}
		return &file{h: h, path: p, name: n.name, r: emptyContent{}}, nil
	}
	if n.busy {
		return nil, pathErr("open", p, syscall.EBUSY)
	}
	if fc, ok := n.data.(*fifoContent); ok {
		end, err := fc.open(h.ctx, flag&(os.O_WRONLY|os.O_RDWR) != 0)
		if err != nil {
			return nil, pathErr("open", p, errnoOf(err))
		}
		return &file{h: h, path: p, name: n.name, flag: flag, fifo: end}, nil
	}
	if flag&(os.O_WRONLY|os.O_RDWR) != os.O_WRONLY {
		h.faults.grow(h.fs, l.path, n)
	}
	f := &file{h: h, path: p, name: n.name, flag: flag, r: n.data}
	if f.r == nil {
		f.r = emptyContent{}
	}
	switch n.data.(type) {
	case nullDev, zeroDev:
		f.discard = true
	}
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 && !f.discard {
		wc, ok := n.data.(writableContent)
		if !ok {
			return nil, pathErr("open", p, syscall.EACCES)
		}
		if flag&os.O_TRUNC != 0 {
			if err := wc.Truncate(0); err != nil {
				return nil, pathErr("open", p, errnoOf(err))
			}
		}
		f.w = wc
		if flag&os.O_APPEND != 0 {
			f.pos = wc.Size()
		}
	}
	if flag&(os.O_WRONLY|os.O_RDWR) == os.O_WRONLY {
		f.r = nil
	} else {
		f.r = h.faults.wrapRead(l.path, f.r)
	}
	return f, nil
}

func (h *Host) createLocal(dir *node, name, p string, perm fs.FileMode) (*file, error) {
	if dir.mount != nil {
		return h.openNFS(dir.mount, name, p, os.O_CREATE|os.O_WRONLY)
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if !dir.isDir() {
		return nil, pathErr("open", p, syscall.ENOTDIR)
	}
	if dir.blockDev || dir.path() == "/vmfs/devices/disks" || dir.path() == "/vmfs/volumes" || dir.path() == "/" || dir.path() == "/bin" {
		return nil, pathErr("open", p, syscall.EPERM)
	}
	mc := newMem(h.fs, nil)
	h.fs.addLocked(dir, &node{name: name, mode: perm.Perm() &^ 0o022, data: mc})
	return &file{h: h, path: p, name: name, r: mc, w: mc, flag: os.O_RDWR}, nil
}

// Name is the file's path as opened.
func (f *file) Name() string { return f.path }

// Size is the file's current size.
func (f *file) Size() int64 {
	switch {
	case f.nw != nil:
		return f.nw.size()
	case f.w != nil:
		return f.w.Size()
	case f.r != nil:
		return f.r.Size()
	}
	return 0
}

func (f *file) Read(p []byte) (int, error) {
	if f.fifo != nil {
		if f.fifo.write {
			return 0, pathErr("read", f.path, syscall.EBADF)
		}
		return f.fifo.Read(p)
	}
	n, err := f.ReadAt(p, f.pos)
	f.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if f.r == nil {
		return 0, pathErr("read", f.path, syscall.EBADF)
	}
	n, err := f.r.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = pathErr("read", f.path, errnoOf(err))
	}
	return n, err
}

func (f *file) Write(p []byte) (int, error) {
	if f.fifo != nil {
		if !f.fifo.write {
			return 0, pathErr("write", f.path, syscall.EBADF)
		}
		n, err := f.fifo.Write(p)
		if err != nil {
			err = pathErr("write", f.path, syscall.EPIPE)
		}
		return n, err
	}
	n, err := f.WriteAt(p, f.pos)
	f.pos += int64(n)
	return n, err
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	switch {
	case f.discard:
		return len(p), nil
	case f.nw != nil:
		n, err := f.nw.WriteAt(p, off)
		if err != nil {
			err = pathErr("write", f.path, errnoOf(err))
		}
		return n, err
	case f.w != nil:
		if err := f.h.faults.beforeWrite(f.path, len(p)); err != nil {
			return 0, pathErr("write", f.path, errnoOf(err))
		}
		n, err := f.w.WriteAt(p, off)
		if err != nil {
			err = pathErr("write", f.path, errnoOf(err))
		}
		return n, err
	}
	return 0, pathErr("write", f.path, syscall.EBADF)
}

// Seek moves the file position; devices and regular files allow any
// offset, as lseek(2) does.
func (f *file) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += f.pos
	case io.SeekEnd:
		off += f.Size()
	}
	if off < 0 {
		return f.pos, pathErr("seek", f.path, syscall.EINVAL)
	}
	f.pos = off
	return off, nil
}

// Truncate sets the size of a file opened for writing.
func (f *file) Truncate(size int64) error {
	switch {
	case f.discard:
		return nil
	case f.nw != nil:
		return f.nw.truncate(size)
	case f.w != nil:
		return f.w.Truncate(size)
	}
	return pathErr("truncate", f.path, syscall.EINVAL)
}

// Close releases the file; for an NFS file it waits for the WRITEs in
// flight and commits them, reporting their errors.
func (f *file) Close() error {
	var err error
	f.once.Do(func() {
		if f.fifo != nil {
			f.fifo.Close()
		}
		if f.nw != nil {
			if cerr := f.nw.close(); cerr != nil {
				err = pathErr("close", f.path, errnoOf(cerr))
			}
		}
		if f.done != nil {
			f.done()
		}
	})
	return err
}

// emptyContent reads as an empty file.
type emptyContent struct{}

func (emptyContent) Size() int64                       { return 0 }
func (emptyContent) ReadAt([]byte, int64) (int, error) { return 0, io.EOF }

// nullDev is /dev/null: reads end at once, writes vanish.
type nullDev struct{ emptyContent }

// zeroDev is /dev/zero.
type zeroDev struct{}

func (zeroDev) Size() int64 { return 0 }
func (zeroDev) ReadAt(p []byte, _ int64) (int, error) {
	clear(p)
	return len(p), nil
}
