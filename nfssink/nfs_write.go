package nfssink

import (
	"errors"
	"github.com/esxsink/esxsink/hashlog"
	"os"
	"path/filepath"
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
	if off > 1<<62 {
		return writeFail(h.xid, nfs3ErrFBig, nil)
	}
	var t *tracker
	var n int
	var anomaly string
	var werr error
	for attempt := 0; attempt < 2; attempt++ {
		var status uint32
		t, status = s.trackerFor(rel)
		if status != nfs3OK {
			return writeFail(h.xid, status, nil)
		}
		if t == nil { // an ESXi lock file: not evidence, written plainly
			return c.writeLockFile(h.xid, rel, int64(off), data, stable)
		}
		// The idle timer may finalize the file between the lookup and the
		// write; then the write takes the file up again.
		if n, anomaly, werr = t.write(int64(off), data); !errors.Is(werr, errFinalized) {
			break
		}
	}
	if anomaly != "" {
		c.log.Warn("write anomaly", "path", rel, "offset", off, "anomaly", anomaly)
		s.record(hashlog.TypeWriteAnomaly, hashlog.WriteAnomaly{Path: rel, Offset: int64(off), Length: int64(len(data)), Kind: anomaly})
	}
	post := s.trackerAttrs(t)
	if werr != nil {
		if isNoSpace(werr) {
			c.log.Error("evidence disk full", "path", rel, "offset", off)
			s.record(hashlog.TypeNoSpace, hashlog.NoSpace{Path: rel, Offset: int64(off), Length: int64(len(data)), Written: int64(n), FreeBytes: uint64(max(s.freeBytes(), 0))})
			return writeFail(h.xid, nfs3ErrNoSpc, &post)
		}
		c.log.Error("write failed", "path", rel, "offset", off, "err", werr)
		s.record(hashlog.TypeWriteError, hashlog.WriteAnomaly{Path: rel, Offset: int64(off), Length: int64(len(data)), Kind: werr.Error()})
		return writeFail(h.xid, nfs3ErrIO, &post)
	}
	committed := uint32(unstable)
	if stable != unstable {
		if err := t.sync(); err != nil {
			s.record(hashlog.TypeWriteError, hashlog.WriteAnomaly{Path: rel, Offset: int64(off), Length: int64(len(data)), Kind: err.Error()})
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
