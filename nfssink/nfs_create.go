package nfssink

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/esxsink/esxsink/custody"
)

const (
	createUnchecked = 0
	createGuarded   = 1
	createExclusive = 2
)

// onCreate creates evidence files. go-nfs's CREATE truncates an existing
// file in UNCHECKED mode and refuses EXCLUSIVE; an evidence sink must do
// neither, and records every file it creates.
func (c *conn) onCreate(h callHeader, args *xdrReader) *xdrWriter {
	s := c.s
	dirFH, name, err := diropArgs(args)
	if err != nil {
		return newReply(h.xid, acceptGarbageArgs)
	}
	how, err := args.Uint32()
	if err != nil {
		return newReply(h.xid, acceptGarbageArgs)
	}
	var attr sattr3
	var verf []byte
	switch how {
	case createUnchecked, createGuarded:
		if attr, err = readSattr(args); err != nil {
			return newReply(h.xid, acceptGarbageArgs)
		}
	case createExclusive:
		if verf, err = args.Fixed(8); err != nil {
			return newReply(h.xid, acceptGarbageArgs)
		}
	default:
		return newReply(h.xid, acceptGarbageArgs)
	}
	dir, err := s.handles.path(dirFH)
	if err != nil {
		return dirFail(h.xid, nfs3ErrStale, nil)
	}
	dirAttrs := s.attrsOf(dir)
	if status := c.checkName(h, dir, name); status != nfs3OK {
		return dirFail(h.xid, status, dirAttrs)
	}
	if dirAttrs == nil {
		return dirFail(h.xid, nfs3ErrNoEnt, nil)
	}
	if !dirAttrs.dir {
		return dirFail(h.xid, nfs3ErrNotDir, dirAttrs)
	}
	rel := joinRel(dir, name)
	osPath := filepath.FromSlash(rel)
	existing, statErr := s.root.Lstat(osPath)
	switch {
	case statErr == nil && existing.IsDir():
		return dirFail(h.xid, nfs3ErrExist, dirAttrs)
	case statErr == nil && !existing.Mode().IsRegular():
		return dirFail(h.xid, nfs3ErrExist, dirAttrs)
	case statErr == nil && how == createGuarded:
		return dirFail(h.xid, nfs3ErrExist, dirAttrs)
	case statErr == nil && how == createExclusive:
		if !bytes.Equal(s.exclusiveVerifier(rel), verf) {
			return dirFail(h.xid, nfs3ErrExist, dirAttrs)
		}
		// A retransmitted EXCLUSIVE create of the file it made: success.
	case statErr == nil: // UNCHECKED over an existing file
		if attr.setSize && attr.size < uint64(existing.Size()) {
			c.refuse(h, rel, "CREATE would truncate an existing evidence file")
			return dirFail(h.xid, nfs3ErrAcces, dirAttrs)
		}
	case errors.Is(statErr, fs.ErrNotExist):
		f, err := s.root.OpenFile(osPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, evidenceFileMode)
		if err != nil {
			c.log.Error("create failed", "path", rel, "err", err)
			if isNoSpace(err) {
				return dirFail(h.xid, nfs3ErrNoSpc, dirAttrs)
			}
			return dirFail(h.xid, nfs3ErrIO, dirAttrs)
		}
		if how == createExclusive {
			s.rememberExclusive(rel, verf)
		}
		if s.scratch.match(name) {
			f.Close()
		} else {
			s.adoptCreated(rel, f)
			c.log.Info("file created", "path", rel)
			s.record(custody.TypeFileCreated, custody.FileCreated{Path: rel, FileID: s.handles.fileid(rel), Client: c.client.String()})
		}
	default:
		return dirFail(h.xid, nfs3ErrIO, dirAttrs)
	}
	w := statusReply(h.xid, nfs3OK)
	w.Bool(true)
	w.Opaque(s.handles.handle(rel))
	putPostOp(w, s.attrsOf(rel))
	putWcc(w, s.attrsOf(dir))
	return w
}

// dirFail is the failure reply of CREATE, MKDIR, SYMLINK, MKNOD, REMOVE and
// RMDIR: the status and the directory's wcc_data.
func dirFail(xid, status uint32, dir *attrs) *xdrWriter {
	w := statusReply(xid, status)
	putWcc(w, dir)
	return w
}

// checkName validates a new name and records a refusal.
func (c *conn) checkName(h callHeader, dir, name string) uint32 {
	if err := validName(name); err != nil {
		c.refuse(h, joinRel(dir, sanitizeForLog(name)), "invalid name: "+err.Error())
		if len(name) > maxName {
			return nfs3ErrNameLong
		}
		return nfs3ErrAcces
	}
	return nfs3OK
}

// sanitizeForLog keeps hostile names readable and bounded in logs.
func sanitizeForLog(name string) string {
	if len(name) > 300 {
		name = name[:300] + "..."
	}
	return name
}
