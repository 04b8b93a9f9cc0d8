package nfssink

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/esxsink/esxsink/custody"
)

// onWrite is the evidence path: one positional write through the file's
// cached descriptor, hashing in parallel, and an honest stability answer.
func (c *conn) onWrite(h callHeader, args *xdrReader) *xdrWriter {
	fh, err := args.Opaque(maxFileHandle)
	if err != nil {
		return newReply(h.xid, acceptGarbageArgs)
	}
	off, err1 := args.Uint64()
	count, err2 := args.Uint32()
	stable, err3 := args.Uint32()
	data, err4 := args.Opaque(maxWrite)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return newReply(h.xid, acceptGarbageArgs)
	}
	if int(count) < len(data) {
		data = data[:count]
	}
	s := c.s
	rel, err := s.handles.path(fh)
	if err != nil {
		return writeFail(h.xid, nfs3ErrStale, nil)
	}
	if off > maxFileSize || off+uint64(len(data)) > maxFileSize {
		return writeFail(h.xid, nfs3ErrFBig, nil)
	}
	t, n, status, werr := s.evidenceWrite(rel, int64(off), data)
	if status == nfs3OK && t == nil { // an ESXi lock file: not evidence, written plainly
		return c.writeLockFile(h.xid, rel, int64(off), data, stable)
	}
	if t == nil {
		return writeFail(h.xid, status, nil)
	}
	post := s.trackerAttrs(t)
	if werr != nil {
		return writeFail(h.xid, status, &post)
	}
	committed := uint32(unstable)
	if stable != unstable {
		if err := t.sync(); err != nil {
			s.record(custody.TypeWriteError, custody.WriteAnomaly{Path: rel, Offset: int64(off), Length: int64(len(data)), Kind: err.Error()})
			return writeFail(h.xid, nfs3ErrIO, &post)
		}
		committed = fileSync
	}
	s.stats.written.Add(int64(n))
	w := statusReply(h.xid, nfs3OK)
	putWcc(w, &post)
	w.Uint32(uint32(n))
	w.Uint32(committed)
	w.Fixed(s.verifier[:])
	return w
}

// evidenceWrite writes data at off into rel's tracker, for NFS WRITE and
// Receive alike, and records what went wrong: an anomaly, a full disk, a
// write error. t is nil with status nfs3OK for a file that is not
// evidence (an ESXi lock file); with another status the file cannot be
// written. A write error comes back with its NFS status (NOSPC or IO).
func (s *Sink) evidenceWrite(rel string, off int64, data []byte) (t *tracker, n int, status uint32, err error) {
	if err := s.custodyBroken(); err != nil {
		return nil, 0, nfs3ErrIO, err
	}
	var anomaly string
	for attempt := 0; attempt < 2; attempt++ {
		if t, status = s.trackerFor(rel); status != nfs3OK || t == nil {
			return nil, 0, status, nil
		}
		// The idle timer may finalize the file between the lookup and the
		// write; then the write takes the file up again.
		if n, anomaly, err = t.write(off, data); !errors.Is(err, errFinalized) {
			break
		}
	}
	if anomaly != "" {
		s.log.Warn("write anomaly", "path", rel, "offset", off, "anomaly", anomaly)
		s.record(custody.TypeWriteAnomaly, custody.WriteAnomaly{Path: rel, Offset: off, Length: int64(len(data)), Kind: anomaly})
	}
	switch {
	case err == nil:
		return t, n, nfs3OK, nil
	case osTooBig(err):
		s.log.Error("write past the largest file the evidence disk can hold", "path", rel, "offset", off)
		s.record(custody.TypeWriteError, custody.WriteAnomaly{Path: rel, Offset: off, Length: int64(len(data)), Kind: "file too large for the evidence file system: " + err.Error()})
		return t, n, nfs3ErrFBig, err
	case isNoSpace(err):
		s.log.Error("evidence disk full", "path", rel, "offset", off)
		s.record(custody.TypeNoSpace, custody.NoSpace{Path: rel, Offset: off, Length: int64(len(data)), Written: int64(n), FreeBytes: uint64(max(s.freeBytes(), 0))})
		return t, n, nfs3ErrNoSpc, err
	}
	s.log.Error("write failed", "path", rel, "offset", off, "err", err)
	s.record(custody.TypeWriteError, custody.WriteAnomaly{Path: rel, Offset: off, Length: int64(len(data)), Kind: err.Error()})
	return t, n, nfs3ErrIO, err
}

func writeFail(xid, status uint32, post *attrs) *xdrWriter {
	w := statusReply(xid, status)
	putWcc(w, post)
	return w
}

// trackerAttrs reports a tracked file's attributes without a stat call.
func (s *Sink) trackerAttrs(t *tracker) attrs {
	t.mu.Lock()
	defer t.mu.Unlock()
	mt := t.lastWrite
	if mt.IsZero() {
		mt = t.created
	}
	return attrs{mode: evidenceFileMode, size: uint64(t.size), fileid: s.handles.fileid(t.rel), mtime: mt}
}

func (c *conn) writeLockFile(xid uint32, rel string, off int64, data []byte, stable uint32) *xdrWriter {
	f, err := c.s.root.OpenFile(filepath.FromSlash(rel), os.O_RDWR, 0)
	if err != nil {
		return writeFail(xid, nfs3ErrIO, nil)
	}
	defer f.Close()
	n, err := f.WriteAt(data, off)
	if err == nil && stable != unstable {
		err = f.Sync()
	}
	if err != nil {
		return writeFail(xid, nfs3ErrIO, nil)
	}
	post := c.s.attrsOf(rel)
	w := statusReply(xid, nfs3OK)
	putWcc(w, post)
	w.Uint32(uint32(n))
	if stable != unstable {
		w.Uint32(fileSync)
	} else {
		w.Uint32(unstable)
	}
	w.Fixed(c.s.verifier[:])
	return w
}
