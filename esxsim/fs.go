package esxsim

import (
	"errors"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// content is the data behind a regular file or a device. Implementations
// are safe for concurrent ReadAt; big ones are generated on read.
type content interface {
	Size() int64
	ReadAt(p []byte, off int64) (int, error)
}

// writableContent is content the shell may change.
type writableContent interface {
	content
	WriteAt(p []byte, off int64) (int, error)
	Truncate(size int64) error
}

// node is one entry of the simulated host's file tree.
type node struct {
	name   string
	mode   fs.FileMode
	mtime  time.Time
	ino    uint64
	parent *node
	kids   map[string]*node // directories
	target string           // symlinks
	data   content          // regular files and devices
	mount  *nfsMount        // the root of an NFS volume
	busy   bool             // held open by a running VM: opening fails with EBUSY
	// blockDev marks /vmfs/devices entries (ls shows them as files).
	blockDev bool
}

func (n *node) isDir() bool  { return n.mode.IsDir() }
func (n *node) isLink() bool { return n.mode&fs.ModeSymlink != 0 }

func (n *node) size() int64 {
	switch {
	case n.isLink():
		return int64(len(n.target))
	case n.isDir():
		return int64(512 + 140*len(n.kids))
	case n.data != nil:
		return n.data.Size()
	}
	return 0
}

func (n *node) path() string {
	if n.parent == nil {
		return "/"
	}
	var parts []string
	for c := n; c.parent != nil; c = c.parent {
		parts = append(parts, c.name)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return "/" + strings.Join(parts, "/")
}

// vfs is the simulated host's file tree: local nodes, with NFS volumes
// grafted in where a node carries a mount, and VMFS volumes shared with
// other hosts of a fleet grafted in as the same nodes.
type vfs struct {
	*treeLock
	root *node
	now  func() time.Time
	// memUsed and memLimit bound what the shell may write into local
	// (RAM-backed) files; ESXi's ramdisks are small.
	memUsed  int64
	memLimit int64
}

// treeLock guards every tree that shares nodes: the hosts of a fleet see a
// shared datastore as one set of nodes, so they take one lock and number
// inodes from one counter.
type treeLock struct {
	mu      sync.RWMutex
	nextIno uint64
}

func newTreeLock() *treeLock { return &treeLock{nextIno: 2} }

// newVFS makes an empty tree; lock is shared with the trees it will share
// nodes with (nil: a tree of its own).
func newVFS(now func() time.Time, lock *treeLock) *vfs {
	if lock == nil {
		lock = newTreeLock()
	}
	v := &vfs{treeLock: lock, now: now, memLimit: 256 << 20}
	v.root = &node{mode: fs.ModeDir | 0o755, mtime: now(), ino: 1, kids: map[string]*node{}}
	return v
}

func pathErr(op, p string, errno syscall.Errno) error {
	return &fs.PathError{Op: op, Path: p, Err: errno}
}

// errnoOf extracts the errno behind err, EIO when there is none.
func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	var s interface{ Errno() syscall.Errno }
	if errors.As(err, &s) {
		return s.Errno()
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, fs.ErrExist):
		return syscall.EEXIST
	case errors.Is(err, fs.ErrPermission):
		return syscall.EACCES
	}
	return syscall.EIO
}

// strerror renders an error as glibc's strerror would: "No such file or
// directory", "Device or resource busy".
func strerror(err error) string {
	e := errnoOf(err)
	switch e {
	case syscall.ESTALE:
		return "Stale NFS file handle"
	case syscall.ENOTSUP:
		return "Not supported"
	}
	s := e.Error()
	if s == "" {
		return "Input/output error"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// loc is where a path leads: a local node, or a path inside an NFS volume.
type loc struct {
	n    *node
	m    *nfsMount
	rel  string // path inside the mount, "" for its root
	path string // the resolved absolute path
}

func absPath(cwd, p string) string {
	if !path.IsAbs(p) {
		p = path.Join(cwd, p)
	}
	return path.Clean(p)
}

func splitAll(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			out = append(out, s)
		}
	}
	return out
}

// resolve walks p (absolute), following symlinks in every component and,
// when follow is set, in the last one.
func (v *vfs) resolve(p string, follow bool) (loc, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.resolveLocked(p, follow)
}

func (v *vfs) resolveLocked(p string, follow bool) (loc, error) {
	comps := splitAll(p)
	cur := v.root
	// up holds the directories walked through, so ".." leaves a shared
	// volume into this host's tree, whichever host grafted it last.
	var up []*node
	hops := 0
	for i := 0; i < len(comps); i++ {
		c := comps[i]
		if cur.mount != nil {
			rest := comps[i:]
			return loc{m: cur.mount, rel: strings.Join(rest, "/"), path: path.Join(cur.path(), strings.Join(rest, "/"))}, nil
		}
		if c == ".." {
			if len(up) > 0 {
				cur, up = up[len(up)-1], up[:len(up)-1]
			}
			continue
		}
		if !cur.isDir() {
			return loc{}, pathErr("lookup", p, syscall.ENOTDIR)
		}
		next, ok := cur.kids[c]
		if !ok {
			return loc{}, pathErr("lookup", p, syscall.ENOENT)
		}
		last := i == len(comps)-1
		if next.isLink() && (!last || follow) {
			hops++
			if hops > 40 {
				return loc{}, pathErr("lookup", p, syscall.ELOOP)
			}
			if path.IsAbs(next.target) {
				cur, up = v.root, up[:0]
			}
			comps = append(splitAll(next.target), comps[i+1:]...)
			i = -1
			continue
		}
		up = append(up, cur)
		cur = next
	}
	if cur.mount != nil {
		return loc{m: cur.mount, rel: "", path: cur.path(), n: cur}, nil
	}
	return loc{n: cur, path: cur.path()}, nil
}

// fileInfo is what stat and readdir report, for local and NFS files.
type fileInfo struct {
	name   string
	size   int64
	mode   fs.FileMode
	mtime  time.Time
	ino    uint64
	nlink  uint32
	target string // symlink target
	dev    bool   // a /vmfs/devices disk
	busy   bool
}

func (fi *fileInfo) Name() string               { return fi.name }
func (fi *fileInfo) Size() int64                { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode          { return fi.mode }
func (fi *fileInfo) ModTime() time.Time         { return fi.mtime }
func (fi *fileInfo) IsDir() bool                { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any                   { return fi }
func (fi *fileInfo) Type() fs.FileMode          { return fi.mode.Type() }
func (fi *fileInfo) Info() (fs.FileInfo, error) { return fi, nil }

func (n *node) info() *fileInfo {
	fi := &fileInfo{name: n.name, size: n.size(), mode: n.mode, mtime: n.mtime, ino: n.ino, nlink: 1,
		target: n.target, dev: n.blockDev, busy: n.busy}
	if n.parent == nil {
		fi.name = "/"
	}
	if n.mount != nil {
		fi.mode = fs.ModeDir | 0o755
	}
	return fi
}

// Stat reports the file at p; follow says whether a final symlink is
// followed.
func (h *Host) stat(p string, follow bool) (*fileInfo, error) {
	l, err := h.fs.resolve(p, follow)
	if err != nil {
		return nil, pathErr("stat", p, errnoOf(err))
	}
	if l.m != nil {
		fi, err := l.m.stat(h.ctx, l.rel)
		if err != nil {
			return nil, pathErr("stat", p, errnoOf(err))
		}
		if l.rel == "" {
			fi.name = path.Base(l.path)
		}
		return fi, nil
	}
	return l.n.info(), nil
}

// readDir lists a directory, sorted by name.
func (h *Host) readDir(p string) ([]*fileInfo, error) {
	l, err := h.fs.resolve(p, true)
	if err != nil {
		return nil, pathErr("open", p, errnoOf(err))
	}
	if l.m != nil {
		return l.m.readDir(h.ctx, l.rel)
	}
	h.fs.mu.RLock()
	defer h.fs.mu.RUnlock()
	if !l.n.isDir() {
		return nil, pathErr("open", p, syscall.ENOTDIR)
	}
	out := make([]*fileInfo, 0, len(l.n.kids))
	for _, k := range l.n.kids {
		out = append(out, k.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// mkdir makes a directory.
func (h *Host) mkdir(p string) error {
	dir, name := path.Split(p)
	l, err := h.fs.resolve(dir, true)
	if err != nil {
		return pathErr("mkdir", p, errnoOf(err))
	}
	if l.m != nil {
		return l.m.mkdir(h.ctx, path.Join(l.rel, name))
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if !l.n.isDir() {
		return pathErr("mkdir", p, syscall.ENOTDIR)
	}
	if _, ok := l.n.kids[name]; ok {
		return pathErr("mkdir", p, syscall.EEXIST)
	}
	h.fs.addLocked(l.n, &node{name: name, mode: fs.ModeDir | 0o755, kids: map[string]*node{}})
	return nil
}

// remove removes a file or an empty directory.
func (h *Host) remove(p string) error {
	dir, name := path.Split(path.Clean(p))
	l, err := h.fs.resolve(dir, true)
	if err != nil {
		return pathErr("remove", p, errnoOf(err))
	}
	if l.m != nil {
		return l.m.remove(h.ctx, path.Join(l.rel, name))
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	n, ok := l.n.kids[name]
	if !ok {
		return pathErr("remove", p, syscall.ENOENT)
	}
	switch {
	case n.busy:
		return pathErr("remove", p, syscall.EBUSY)
	case n.mount != nil:
		return pathErr("remove", p, syscall.EBUSY)
	case n.isDir() && len(n.kids) > 0:
		return pathErr("remove", p, syscall.ENOTEMPTY)
	case n.blockDev, strings.HasPrefix(n.path(), "/bin/"), strings.HasPrefix(n.path(), "/vmfs/volumes/") && n.parent.path() == "/vmfs/volumes":
		return pathErr("remove", p, syscall.EPERM)
	}
	if mc, ok := n.data.(*memContent); ok {
		h.fs.memUsed -= mc.Size()
	}
	delete(l.n.kids, name)
	l.n.mtime = h.fs.now()
	return nil
}

// addLocked links child into dir; callers hold mu.
func (v *vfs) addLocked(dir, child *node) *node {
	child.parent = dir
	if child.ino == 0 {
		child.ino = v.nextIno
		v.nextIno++
	}
	if child.mtime.IsZero() {
		child.mtime = v.now()
	}
	if child.isDir() && child.kids == nil {
		child.kids = map[string]*node{}
	}
	dir.kids[child.name] = child
	return child
}

// put creates (or replaces) the node at absolute path p, making parent
// directories as needed. It is how the host builds its tree.
func (v *vfs) put(p string, n *node) *node {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.putLocked(p, n)
}

func (v *vfs) putLocked(p string, n *node) *node {
	comps := splitAll(p)
	cur := v.root
	for _, c := range comps[:len(comps)-1] {
		next, ok := cur.kids[c]
		if !ok {
			next = v.addLocked(cur, &node{name: c, mode: fs.ModeDir | 0o755})
		}
		if next.isLink() {
			if l, err := v.resolveLocked(next.path(), true); err == nil && l.n != nil && l.n.isDir() {
				next = l.n
			}
		}
		cur = next
	}
	n.name = comps[len(comps)-1]
	return v.addLocked(cur, n)
}

// lookupNode returns the local node at p without following a final
// symlink, or nil.
func (v *vfs) lookupNode(p string) *node {
	l, err := v.resolve(p, false)
	if err != nil || l.n == nil {
		return nil
	}
	return l.n
}

// unlink removes the node at p if present.
func (v *vfs) unlink(p string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	l, err := v.resolveLocked(p, false)
	if err != nil || l.n == nil || l.n.parent == nil {
		return
	}
	delete(l.n.parent.kids, l.n.name)
}

// memContent is a small file held in memory.
type memContent struct {
	mu sync.RWMutex
	b  []byte
	v  *vfs
}

func newMem(v *vfs, b []byte) *memContent { return &memContent{b: b, v: v} }

func (m *memContent) Size() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return int64(len(m.b))
}

func (m *memContent) ReadAt(p []byte, off int64) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memContent) grow(size int64) error {
	delta := size - int64(len(m.b))
	if delta <= 0 {
		return nil
	}
	if m.v != nil {
		m.v.mu.Lock()
		over := m.v.memUsed+delta > m.v.memLimit
		if !over {
			m.v.memUsed += delta
		}
		m.v.mu.Unlock()
		if over {
			return syscall.ENOSPC
		}
	}
	if int64(cap(m.b)) >= size {
		m.b = m.b[:size]
	} else {
		nb := make([]byte, size, size+size/4)
		copy(nb, m.b)
		m.b = nb
	}
	return nil
}

func (m *memContent) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.grow(off + int64(len(p))); err != nil {
		return 0, err
	}
	return copy(m.b[off:], p), nil
}

func (m *memContent) Truncate(size int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if size < int64(len(m.b)) {
		if m.v != nil {
			m.v.mu.Lock()
			m.v.memUsed -= int64(len(m.b)) - size
			m.v.mu.Unlock()
		}
		clear(m.b[size:])
		m.b = m.b[:size]
		return nil
	}
	return m.grow(size)
}

func (m *memContent) set(b []byte) {
	m.mu.Lock()
	m.b = b
	m.mu.Unlock()
}

func (m *memContent) bytes() []byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return append([]byte(nil), m.b...)
}

// textFile is a convenience: a regular file holding s.
func (v *vfs) textFile(s string, mode fs.FileMode) *node {
	return &node{mode: mode, data: newMem(nil, []byte(s))}
}
