package nfssink

import (
	"errors"
	"io"
	"path/filepath"
)

// maxRead is the largest READ answered, advertised as rtmax in FSINFO. A
// client asking for more gets a short read (count below the request, eof
// false), which NFSv3 allows and every client handles by asking again.
const maxRead = maxWrite

const nfsProcRead = 6

// onRead answers READ itself, so that a reply is never larger than the
// front end's record limit whatever count a client asks for, and its
// buffer comes from the same bounded pool as WRITE's.
func (c *conn) onRead(h callHeader, args *xdrReader) *xdrWriter {
	fh, err := args.Opaque(maxFileHandle)
	if err != nil {
		return newReply(h.xid, acceptGarbageArgs)
	}
	off, err1 := args.Uint64()
	count, err2 := args.Uint32()
	if errors.Join(err1, err2) != nil {
		return newReply(h.xid, acceptGarbageArgs)
	}
	s := c.s
	rel, err := s.handles.path(fh)
	if err != nil {
		return readFail(h.xid, nfs3ErrStale, nil)
	}
	post := s.attrsOf(rel)
	switch {
	case post == nil:
		return readFail(h.xid, nfs3ErrStale, nil)
	case post.dir:
		return readFail(h.xid, nfs3ErrIsDir, post)
	case !post.mode.IsRegular():
		return readFail(h.xid, nfs3ErrInval, post)
	}
	n := int(min(count, maxRead))
	if off >= post.size {
		n = 0
	}
	buf := s.bufs.get()
	defer s.bufs.put(buf)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	got := 0
	if n > 0 {
		f, err := s.root.Open(filepath.FromSlash(rel))
		if err != nil {
			return readFail(h.xid, nfs3ErrIO, post)
		}
		got, err = f.ReadAt(buf, int64(off))
		f.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return readFail(h.xid, nfs3ErrIO, post)
		}
	}
	w := statusReply(h.xid, nfs3OK)
	putPostOp(w, post)
	w.Uint32(uint32(got))
	w.Bool(off+uint64(got) >= post.size)
	w.Opaque(buf[:got])
	return w
}

func readFail(xid, status uint32, post *attrs) *xdrWriter {
	w := statusReply(xid, status)
	putPostOp(w, post)
	return w
}
