package nfssink

import (
	"path"

	"github.com/esxsink/esxsink/custody"
)

// The write-once policy: clients may create directories and files and
// write them, nothing else. Every refusal is answered with the procedure's
// own failure body (so clients report a clean "permission denied") and
// recorded in the custody log.

func (c *conn) refuse(h callHeader, rel, reason string) {
	c.log.Warn("refused by write-once policy", "procedure", procName(h), "path", rel, "reason", reason)
	c.s.record(custody.TypePolicyRefused, custody.PolicyRefused{Client: c.client.String(), Procedure: procName(h), Path: rel, Reason: reason})
}

// refuseChange answers RMDIR, RENAME, SYMLINK, LINK and MKNOD.
func (c *conn) refuseChange(h callHeader, args *xdrReader) *xdrWriter {
	s := c.s
	switch h.proc {
	case nfsProcLink:
		fh, err := args.Opaque(maxFileHandle)
		if err != nil {
			return newReply(h.xid, acceptGarbageArgs)
		}
		dirFH, name, err := diropArgs(args)
		if err != nil {
			return newReply(h.xid, acceptGarbageArgs)
		}
		target, _ := s.handles.path(fh)
		dir, _ := s.handles.path(dirFH)
		c.refuse(h, joinRel(dir, sanitizeForLog(name)), "hard links to evidence are not allowed (target "+target+")")
		w := statusReply(h.xid, nfs3ErrAcces)
		putPostOp(w, s.attrsOf(target))
		putWcc(w, s.attrsOf(dir))
		return w
	case nfsProcRename:
		fromFH, from, err := diropArgs(args)
		if err != nil {
			return newReply(h.xid, acceptGarbageArgs)
		}
		toFH, to, err := diropArgs(args)
		if err != nil {
			return newReply(h.xid, acceptGarbageArgs)
		}
		fromDir, _ := s.handles.path(fromFH)
		toDir, _ := s.handles.path(toFH)
		c.refuse(h, joinRel(fromDir, sanitizeForLog(from)), "evidence may not be renamed (to "+joinRel(toDir, sanitizeForLog(to))+")")
		w := statusReply(h.xid, nfs3ErrAcces)
		putWcc(w, s.attrsOf(fromDir))
		putWcc(w, s.attrsOf(toDir))
		return w
	default: // RMDIR, SYMLINK, MKNOD: diropargs first, failure body is dir_wcc
		dirFH, name, err := diropArgs(args)
		if err != nil {
			return newReply(h.xid, acceptGarbageArgs)
		}
		dir, _ := s.handles.path(dirFH)
		reason := map[uint32]string{
			nfsProcRmdir:   "evidence folders may not be removed",
			nfsProcSymlink: "symbolic links are not allowed in the evidence folder",
			nfsProcMknod:   "special files are not allowed in the evidence folder",
		}[h.proc]
		c.refuse(h, joinRel(dir, sanitizeForLog(name)), reason)
		return dirFail(h.xid, nfs3ErrAcces, s.attrsOf(dir))
	}
}

// onRemove lets ESXi remove its own .lck-* lock files and refuses the rest.
func (c *conn) onRemove(h callHeader, args *xdrReader) (*xdrWriter, bool) {
	dirFH, name, err := diropArgs(args)
	if err != nil {
		return newReply(h.xid, acceptGarbageArgs), true
	}
	if c.s.scratch.match(name) && validName(name) == nil {
		return nil, false
	}
	dir, _ := c.s.handles.path(dirFH)
	c.refuse(h, joinRel(dir, sanitizeForLog(name)), "evidence may not be removed")
	return dirFail(h.xid, nfs3ErrAcces, c.s.attrsOf(dir)), true
}

// onMkdir validates the new folder's name; go-nfs creates it.
func (c *conn) onMkdir(h callHeader, args *xdrReader) (*xdrWriter, bool) {
	dirFH, name, err := diropArgs(args)
	if err != nil {
		return newReply(h.xid, acceptGarbageArgs), true
	}
	dir, err := c.s.handles.path(dirFH)
	if err != nil {
		return dirFail(h.xid, nfs3ErrStale, nil), true
	}
	if status := c.checkName(h, dir, name); status != nfs3OK {
		return dirFail(h.xid, status, c.s.attrsOf(dir)), true
	}
	// Recorded when go-nfs answers, with its outcome (replied).
	c.pendingMkdir(h.xid, joinRel(dir, name))
	return nil, false
}

// onSetattr refuses size changes that would destroy evidence: shrinking a
// file that holds data. Growing a file (dd seek=) and setting the size an
// empty file already has are harmless and go to go-nfs, as do mode, owner
// and time changes, which evidence files accept without applying.
func (c *conn) onSetattr(h callHeader, args *xdrReader) (*xdrWriter, bool) {
	fh, err := args.Opaque(maxFileHandle)
	if err != nil {
		return newReply(h.xid, acceptGarbageArgs), true
	}
	attr, err := readSattr(args)
	if err != nil {
		return newReply(h.xid, acceptGarbageArgs), true
	}
	if !attr.setSize {
		return nil, false
	}
	rel, err := c.s.handles.path(fh)
	if err != nil {
		return dirFail(h.xid, nfs3ErrStale, nil), true
	}
	if c.s.scratch.match(path.Base(rel)) {
		return nil, false
	}
	cur := c.s.attrsOf(rel)
	if cur != nil && !cur.dir && attr.size < cur.size {
		c.refuse(h, rel, "SETATTR would truncate evidence")
		return dirFail(h.xid, nfs3ErrAcces, cur), true
	}
	if t := c.s.openTracker(rel); t != nil && cur != nil && attr.size > cur.size {
		c.s.record(custody.TypeWriteAnomaly, custody.WriteAnomaly{Path: rel, Offset: int64(cur.size), Length: int64(attr.size - cur.size), Kind: "extended by SETATTR (zero-filled hole)"})
	}
	return nil, false
}
