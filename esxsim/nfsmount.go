package esxsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/esxsink/esxsink/internal/nfsclient"
)

// nfsMount is an NFS datastore: /vmfs/volumes/<uuid> (and the LABEL
// symlink) read and written through a real NFSv3 connection.
type nfsMount struct {
	h                        *Host
	label, host, share, uuid string
	readOnly                 bool
	c                        *nfsclient.Mount

	open       atomic.Int64 // files open on the volume
	written    atomic.Int64 // bytes queued for WRITE
	writes     atomic.Int64
	heartbeats atomic.Int64
	hbFailed   atomic.Int64
	lost       atomic.Bool // the server went away (fault or heartbeat)
	stop       context.CancelFunc
	done       chan struct{}
	mu         sync.Mutex
	maxFlight  int64
}

// nasError is a mount failure with ESXi's reason text.
type nasError struct {
	reason string // VMkernel status text: "Unable to connect to NFS server"
	err    error
}

func (e *nasError) Error() string { return e.reason }
func (e *nasError) Unwrap() error { return e.err }

// Texts ESXi uses for NAS failures (VMK_NFS_* status strings).
const (
	nfsConnectFailure = "Unable to connect to NFS server"
	nfsMountDenied    = "The NFS server denied the mount request"
	nfsMountNotDir    = "The specified mount path was not a directory"
	nfsBadFSInfo      = "Unable to query remote mount point's attributes"
	nfsMountNotSupp   = "The NFS server does not support MOUNT version 3 over TCP"
)

func nasUUID(host, share string) string {
	s := hexOf(stableHash("nas", host, share), 16)
	return s[:8] + "-" + s[8:]
}

// mountNAS mounts host:share as label, the way esxcfg-nas -a does.
func (h *Host) mountNAS(ctx context.Context, label, host, share string, readOnly bool) error {
	h.mu.Lock()
	if _, ok := h.mounts[label]; ok {
		h.mu.Unlock()
		return &nasError{reason: fmt.Sprintf("A NAS volume with the label %s already exists", label)}
	}
	for _, m := range h.mounts {
		if m.host == host && m.share == share {
			h.mu.Unlock()
			return &nasError{reason: fmt.Sprintf("%s:%s is already exported by a volume with the name %s", host, share, m.label)}
		}
	}
	for _, d := range h.dss {
		if d.spec.Name == label {
			h.mu.Unlock()
			return &nasError{reason: fmt.Sprintf("A volume with the label %s already exists", label)}
		}
	}
	h.mu.Unlock()
	h.foot.vmkernel("NFS: 161: Command: (mount) Server: (%s) IP: (%s) Path: (%s) Label: (%s) Options: (None)", host, host, share, label)
	if h.faults.take(FaultSinkUnreachable, func(a *activeFault) bool { return a.AfterBytes == 0 }) != nil {
		h.foot.vmkernel("WARNING: NFS: 898: RPC error 13 (RPC was aborted due to timeout) trying to get port for Mount Program (100005) Version (3) Protocol (TCP) on Server (%s)", host)
		h.foot.vmkernel("WARNING: NFS: 221: NFS mount %s:%s failed: Unable to connect to NFS server.", host, share)
		return &nasError{reason: nfsConnectFailure}
	}
	mctx, cancel := context.WithTimeout(ctx, h.cfg.MountTimeout)
	defer cancel()
	c, err := nfsclient.MountExport(mctx, host, share, nfsclient.MountOptions{PortmapPort: h.cfg.PortmapPort,
		Auth: nfsclient.Auth{Machine: h.sc.Host.Hostname}, LocalAddr: h.nfsSource()})
	if err != nil {
		reason := nfsConnectFailure
		var me *nfsclient.MountError
		if errors.As(err, &me) {
			switch me.Stage {
			case nfsclient.StageMnt:
				reason = nfsMountDenied
				if errors.Is(err, nfsclient.MntErrNotDir) {
					reason = nfsMountNotDir
				}
				var ae nfsclient.AcceptStat
				if errors.As(err, &ae) {
					reason = nfsMountNotSupp
				}
			case nfsclient.StageNFS:
				if errors.Is(err, nfsclient.ErrNotRegistered) {
					reason = "The NFS server does not support requested NFS version over TCP"
				} else {
					reason = nfsBadFSInfo
				}
			}
			if me.Stage == nfsclient.StagePortmap || me.Stage == nfsclient.StageMountd {
				h.foot.vmkernel("WARNING: NFS: 898: RPC error 13 (RPC was aborted due to timeout) trying to get port for Mount Program (100005) Version (3) Protocol (TCP) on Server (%s)", host)
			}
		}
		if reason == nfsMountDenied {
			h.foot.vmkernel("WARNING: NFS: 221: NFS mount %s:%s failed: The mount request was denied by the NFS server. Check that the export exists and that the client is permitted to mount it.", host, share)
		} else {
			h.foot.vmkernel("WARNING: NFS: 221: NFS mount %s:%s failed: %s.", host, share, reason)
		}
		h.log.Warn("NAS mount failed", "host", host, "share", share, "err", err)
		return &nasError{reason: reason, err: err}
	}
	m := &nfsMount{h: h, label: label, host: host, share: share, uuid: nasUUID(host, share), readOnly: readOnly, c: c, done: make(chan struct{})}
	h.mu.Lock()
	h.mounts[label] = m
	h.mu.Unlock()
	now := h.now()
	h.fs.put("/vmfs/volumes/"+m.uuid, &node{mode: fs.ModeDir | 0o755, mtime: now, mount: m})
	h.fs.put("/vmfs/volumes/"+label, &node{mode: fs.ModeSymlink | 0o755, mtime: now, target: m.uuid})
	h.foot.vmkernel("NFS: 1333: Invalid volume UUID %s:%s", host, share)
	h.foot.vmkernel("NFS: 1338: Creating uuid %s for %s:%s", m.uuid, host, share)
	h.foot.vmkernel("NFS: 235: NFS mount %s:%s status: Success", host, share)
	hctx, stop := context.WithCancel(h.ctx)
	m.stop = stop
	go m.heartbeat(hctx)
	h.log.Info("NAS volume mounted", "label", label, "host", host, "share", share, "uuid", m.uuid)
	return nil
}

// errUnmountBusy is ESXi's refusal to unmount a volume in use.
var errUnmountBusy = errors.New("NFS Error: Unable to Unmount filesystem: Busy.")

var errNoSuchVolume = errors.New("no such NAS volume")

// unmountNAS removes the NAS volume label, as esxcfg-nas -d does: it is
// refused while files are open on it.
func (h *Host) unmountNAS(ctx context.Context, label string) error {
	h.mu.Lock()
	m, ok := h.mounts[label]
	h.mu.Unlock()
	if !ok {
		return errNoSuchVolume
	}
	if m.open.Load() > 0 || h.faults.take(FaultUnmountBusy, nil) != nil {
		h.foot.vmkernel("WARNING: NFS: 2189: Unable to unmount volume %s: Busy", label)
		return errUnmountBusy
	}
	h.mu.Lock()
	delete(h.mounts, label)
	h.mu.Unlock()
	h.fs.unlink("/vmfs/volumes/" + label)
	h.fs.unlink("/vmfs/volumes/" + m.uuid)
	m.close(ctx)
	h.foot.vmkernel("NFS: 2230: Unmounted volume %s (%s:%s)", label, m.host, m.share)
	return nil
}

func (m *nfsMount) close(ctx context.Context) {
	if m.stop != nil {
		m.stop()
		<-m.done
	}
	if !m.lost.Load() {
		m.c.Unmount(ctx)
	} else {
		m.c.Close()
	}
}

// heartbeat sends GETATTR on the volume root like ESXi's NFS heartbeat
// world; three failures in a row mark the volume inaccessible.
func (m *nfsMount) heartbeat(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(m.h.cfg.Heartbeat)
	defer t.Stop()
	fails := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := m.c.Getattr(hctx, m.c.Root)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			m.heartbeats.Add(1)
			if fails >= 3 {
				m.h.foot.vmkernel("NFS: 286: Restored connection to server %s mount point %s, mounted as %s (\"%s\")", m.host, m.share, m.uuid, m.label)
			}
			fails = 0
			continue
		}
		m.hbFailed.Add(1)
		fails++
		if fails == 3 {
			m.lost.Store(true)
			m.h.foot.vmkernel("WARNING: NFS: 337: Lost connection to the server %s mount point %s, mounted as %s (\"%s\")", m.host, m.share, m.uuid, m.label)
		}
	}
}

func (m *nfsMount) accessible() bool {
	select {
	case <-m.c.Done():
		return false
	default:
	}
	return !m.lost.Load()
}

func (h *Host) mountList() []*nfsMount {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*nfsMount, 0, len(h.mounts))
	for _, m := range h.mounts {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].label < out[j].label })
	return out
}

func nfsInfo(name string, a nfsclient.Attr) *fileInfo {
	return &fileInfo{name: name, size: int64(a.Size), mode: a.FileMode(), mtime: a.Mtime, ino: a.FileID, nlink: a.Nlink}
}

func (m *nfsMount) lookup(ctx context.Context, rel string) (nfsclient.FileHandle, *nfsclient.Attr, error) {
	return m.c.LookupPath(ctx, m.c.Root, rel)
}

func (m *nfsMount) stat(ctx context.Context, rel string) (*fileInfo, error) {
	_, a, err := m.lookup(ctx, rel)
	if err != nil {
		return nil, err
	}
	return nfsInfo(path.Base(rel), *a), nil
}

func (m *nfsMount) readDir(ctx context.Context, rel string) ([]*fileInfo, error) {
	fh, a, err := m.lookup(ctx, rel)
	if err != nil {
		return nil, err
	}
	if a.Type != nfsclient.TypeDir {
		return nil, syscall.ENOTDIR
	}
	ents, err := m.c.ReadDirPlus(ctx, fh)
	if err != nil {
		return nil, err
	}
	var out []*fileInfo
	for _, e := range ents {
		if e.Name == "." || e.Name == ".." {
			continue
		}
		fi := &fileInfo{name: e.Name, ino: e.FileID, mode: 0o644}
		if e.Attr != nil {
			fi = nfsInfo(e.Name, *e.Attr)
		}
		out = append(out, fi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func (m *nfsMount) parent(ctx context.Context, rel string) (nfsclient.FileHandle, string, error) {
	dir, name := path.Split(rel)
	fh, a, err := m.lookup(ctx, dir)
	if err != nil {
		return nil, "", err
	}
	if a.Type != nfsclient.TypeDir {
		return nil, "", syscall.ENOTDIR
	}
	return fh, name, nil
}

func (m *nfsMount) mkdir(ctx context.Context, rel string) error {
	if m.readOnly {
		return syscall.EROFS
	}
	dir, name, err := m.parent(ctx, rel)
	if err != nil {
		return err
	}
	mode := uint32(0o755)
	_, _, err = m.c.Mkdir(ctx, dir, name, nfsclient.SetAttr{Mode: &mode})
	return err
}

func (m *nfsMount) remove(ctx context.Context, rel string) error {
	if m.readOnly {
		return syscall.EROFS
	}
	dir, name, err := m.parent(ctx, rel)
	if err != nil {
		return err
	}
	_, a, err := m.c.Lookup(ctx, dir, name)
	if err != nil {
		return err
	}
	if a != nil && a.Type == nfsclient.TypeDir {
		return m.c.Rmdir(ctx, dir, name)
	}
	return m.c.Remove(ctx, dir, name)
}

// openNFS opens a file on an NFS volume: READs for reading, pipelined
// WRITEs for writing.
func (h *Host) openNFS(m *nfsMount, rel, p string, flag int) (*file, error) {
	ctx := h.ctx
	fail := func(err error) (*file, error) { return nil, pathErr("open", p, errnoOf(err)) }
	if !m.accessible() {
		return fail(syscall.EIO)
	}
	write := flag&(os.O_WRONLY|os.O_RDWR) != 0
	fh, a, err := m.lookup(ctx, rel)
	switch {
	case err == nil && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return fail(syscall.EEXIST)
	case err == nil && a.Type == nfsclient.TypeDir && write:
		return fail(syscall.EISDIR)
	case err != nil && (flag&os.O_CREATE == 0 || !errors.Is(err, fs.ErrNotExist)):
		return fail(err)
	case err != nil:
		if m.readOnly {
			return fail(syscall.EROFS)
		}
		dir, name, perr := m.parent(ctx, rel)
		if perr != nil {
			return fail(perr)
		}
		mode := uint32(0o644)
		how := nfsclient.Unchecked
		if flag&os.O_EXCL != 0 {
			how = nfsclient.Guarded
		}
		fh, a, err = m.c.Create(ctx, dir, name, how, nfsclient.SetAttr{Mode: &mode}, [8]byte{})
		if err != nil {
			return fail(err)
		}
		if a == nil {
			at, gerr := m.c.Getattr(ctx, fh)
			if gerr != nil {
				return fail(gerr)
			}
			a = &at
		}
	}
	if write && m.readOnly {
		return fail(syscall.EROFS)
	}
	if write && flag&os.O_TRUNC != 0 && a.Size > 0 {
		zero := uint64(0)
		if err := m.c.Setattr(ctx, fh, nfsclient.SetAttr{Size: &zero}); err != nil {
			return fail(err)
		}
		a.Size = 0
	}
	m.open.Add(1)
	f := &file{h: h, path: p, name: path.Base(p), flag: flag, done: func() { m.open.Add(-1) }}
	if write {
		chunk := int(min(m.c.Info.WTMax, 1<<20))
		if chunk <= 0 {
			chunk = 64 << 10
		}
		f.nw = &nfsFile{m: m, fh: fh, path: p, sz: int64(a.Size),
			w: m.c.NewWriter(ctx, fh, nfsclient.WriterOptions{InFlight: h.cfg.NFSInFlight, Chunk: chunk})}
	}
	if flag&(os.O_WRONLY|os.O_RDWR) != os.O_WRONLY {
		f.r = h.faults.wrapRead(p, &nfsReader{m: m, fh: fh, size: int64(a.Size)})
	}
	if flag&os.O_APPEND != 0 {
		f.pos = int64(a.Size)
	}
	return f, nil
}

// nfsFile writes a file on an NFS volume with several WRITEs in flight.
type nfsFile struct {
	m    *nfsMount
	fh   nfsclient.FileHandle
	path string
	w    *nfsclient.FileWriter
	mu   sync.Mutex
	sz   int64
	err  error
}

func (f *nfsFile) size() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sz
}

func (f *nfsFile) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	m := f.m
	if !m.accessible() {
		return 0, syscall.EIO
	}
	if err := m.h.faults.beforeWrite(f.path, len(p)); err != nil {
		return 0, err
	}
	total := m.written.Add(int64(len(p)))
	if a := m.h.faults.take(FaultNFSWriteError, func(a *activeFault) bool {
		return total >= int64(a.AfterBytes) && (a.Path == "" || pathMatches(a.Path, f.path))
	}); a != nil {
		st, _ := nfsStatusByName(a.Status)
		m.h.foot.vmkernel("WARNING: NFS: 4719: Write to %s failed: %s", f.path, st)
		f.mu.Lock()
		f.err = st
		f.mu.Unlock()
		return 0, st
	}
	if m.h.faults.take(FaultSinkUnreachable, func(a *activeFault) bool { return a.AfterBytes > 0 && total >= int64(a.AfterBytes) }) != nil {
		m.lost.Store(true)
		m.c.Close()
		m.h.foot.vmkernel("WARNING: NFS: 337: Lost connection to the server %s mount point %s, mounted as %s (\"%s\")", m.host, m.share, m.uuid, m.label)
		return 0, syscall.EIO
	}
	n, err := f.w.WriteAt(p, off)
	m.writes.Add(1)
	f.mu.Lock()
	f.sz = max(f.sz, off+int64(n))
	f.mu.Unlock()
	return n, err
}

func (f *nfsFile) truncate(size int64) error {
	if err := f.w.Flush(); err != nil {
		return err
	}
	s := uint64(size)
	if err := f.m.c.Setattr(f.m.h.ctx, f.fh, nfsclient.SetAttr{Size: &s}); err != nil {
		return err
	}
	f.mu.Lock()
	f.sz = size
	f.mu.Unlock()
	return nil
}

func (f *nfsFile) close() error {
	err := f.w.Close()
	_, max := f.m.c.Stats()
	f.m.mu.Lock()
	f.m.maxFlight = maxI(f.m.maxFlight, max)
	f.m.mu.Unlock()
	f.mu.Lock()
	if f.err != nil {
		err = f.err
	}
	f.mu.Unlock()
	return err
}

func maxI(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// nfsReader reads a file on an NFS volume.
type nfsReader struct {
	m    *nfsMount
	fh   nfsclient.FileHandle
	size int64
}

func (r *nfsReader) Size() int64 { return r.size }
func (r *nfsReader) ReadAt(p []byte, off int64) (int, error) {
	max := int(r.m.c.Info.RTMax)
	if max <= 0 {
		max = 64 << 10
	}
	done := 0
	for done < len(p) {
		n := min(len(p)-done, max)
		b, eof, err := r.m.c.Read(r.m.h.ctx, r.fh, uint64(off)+uint64(done), uint32(n))
		if err != nil {
			return done, err
		}
		done += copy(p[done:], b)
		if eof || len(b) == 0 {
			return done, io.EOF
		}
	}
	return done, nil
}

// nfsSource is the address the host's NFS client connects from: the
// address its SSH listens on (its management address), so that a sink's
// allow-list sees which host mounts it; "" (any) when it listens on
// every address.
func (h *Host) nfsSource() string {
	ip, _, err := net.SplitHostPort(h.cfg.Listen)
	if err != nil {
		return ""
	}
	if a := net.ParseIP(ip); a == nil || a.IsUnspecified() {
		return ""
	}
	return ip
}
