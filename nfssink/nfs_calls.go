package nfssink

import (
	"context"
	"fmt"
)

// nfsCall answers the NFS procedures the front end owns and reports
// whether it did; the rest go to go-nfs.
func (c *conn) nfsCall(ctx context.Context, h callHeader, args *xdrReader) (*xdrWriter, bool) {
	switch h.proc {
	case nfsProcWrite:
		return c.onWrite(h, args), true
	case nfsProcRead:
		return c.onRead(h, args), true
	case nfsProcCommit:
		return c.onCommit(h, args), true
	case nfsProcCreate:
		return c.onCreate(h, args), true
	case nfsProcFSInfo:
		return c.onFSInfo(h, args), true
	case nfsProcSetattr:
		return c.onSetattr(h, args)
	case nfsProcMkdir:
		return c.onMkdir(h, args)
	case nfsProcRemove:
		return c.onRemove(h, args)
	case nfsProcRmdir, nfsProcRename, nfsProcSymlink, nfsProcLink, nfsProcMknod:
		return c.refuseChange(h, args), true
	}
	return nil, false
}

func procName(h callHeader) string {
	switch h.prog {
	case progNFS:
		if n, ok := nfsProcNames[h.proc]; ok {
			return "NFS " + n
		}
	case progMount:
		return fmt.Sprintf("MOUNT %d", h.proc)
	}
	return fmt.Sprintf("%d.%d", h.prog, h.proc)
}

// diropArgs decodes diropargs3: a directory handle and a name.
func diropArgs(args *xdrReader) (dir []byte, name string, err error) {
	if dir, err = args.Opaque(maxFileHandle); err != nil {
		return nil, "", err
	}
	// Names longer than maxName are decoded (up to a sane bound) so that
	// they can be refused with NAMETOOLONG instead of GARBAGE_ARGS.
	name, err = args.String(4096)
	return dir, name, err
}

// statusReply starts a successful RPC reply carrying an NFS status.
func statusReply(xid, status uint32) *xdrWriter {
	w := newReply(xid, acceptSuccess)
	w.Uint32(status)
	return w
}
