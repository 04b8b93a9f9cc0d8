package nfssink

import (
	"os"
	"path/filepath"

	"github.com/esxsink/esxsink/custody"
)

// onCommit makes a file's data durable. go-nfs answers COMMIT without
// syncing anything; here the reply is only sent after the sync succeeded,
// with the verifier that tells the client whether to resend.
func (c *conn) onCommit(h callHeader, args *xdrReader) *xdrWriter {
	fh, err := args.Opaque(maxFileHandle)
	if err != nil {
		return newReply(h.xid, acceptGarbageArgs)
	}
	s := c.s
	rel, err := s.handles.path(fh)
	if err != nil {
		return writeFail(h.xid, nfs3ErrStale, nil)
	}
	if t := s.openTracker(rel); t != nil {
		if err := t.sync(); err != nil {
			c.log.Error("commit failed", "path", rel, "err", err)
			s.record(custody.TypeWriteError, custody.WriteAnomaly{Path: rel, Kind: "commit: " + err.Error()})
			return writeFail(h.xid, nfs3ErrIO, nil)
		}
	} else if err := syncPath(s.root, rel); err != nil {
		// Finalized or never written through this process (a restart):
		// sync what is on disk so COMMIT still means what it says.
		return writeFail(h.xid, nfs3ErrIO, nil)
	}
	w := statusReply(h.xid, nfs3OK)
	putWcc(w, s.attrsOf(rel))
	w.Fixed(s.verifier[:])
	return w
}

func syncPath(root *os.Root, rel string) error {
	f, err := root.OpenFile(filepath.FromSlash(rel), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
