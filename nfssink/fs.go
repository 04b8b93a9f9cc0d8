package nfssink

import (
	"os"
	"path"
	"strings"
	"time"

	billy "github.com/go-git/go-billy/v5"
	nfsfile "github.com/willscott/go-nfs/file"
)

// evidenceFS is the billy file system go-nfs serves: the evidence folder,
// bound so no path or symlink escapes it, with stable fileids and root
// ownership in every FileInfo, and the write-once policy enforced again
// underneath the front end as defence in depth.
type evidenceFS struct {
	billy.Filesystem
	handles *handleTable
	scratch scratchNames
}

// evidenceInfo carries the fileid and ownership go-nfs reads from Sys().
type evidenceInfo struct {
	os.FileInfo
	sys nfsfile.FileInfo
}

func (i evidenceInfo) Sys() any { return i.sys }

func (f *evidenceFS) wrap(rel string, fi os.FileInfo) os.FileInfo {
	if fi == nil {
		return nil
	}
	return evidenceInfo{FileInfo: fi, sys: nfsfile.FileInfo{Nlink: 1, Fileid: f.handles.fileid(rel)}}
}

// rel turns a billy path ("/a/b", "a/b", "") into our relative form.
func rel(p string) string {
	p = path.Clean("/" + strings.ReplaceAll(p, "\\", "/"))
	return strings.TrimPrefix(p, "/")
}

func (f *evidenceFS) Stat(p string) (os.FileInfo, error) {
	fi, err := f.Filesystem.Stat(p)
	return f.wrap(rel(p), fi), err
}

func (f *evidenceFS) Lstat(p string) (os.FileInfo, error) {
	fi, err := f.Filesystem.Lstat(p)
	return f.wrap(rel(p), fi), err
}

func (f *evidenceFS) ReadDir(p string) ([]os.FileInfo, error) {
	infos, err := f.Filesystem.ReadDir(p)
	dir := rel(p)
	for i, fi := range infos {
		infos[i] = f.wrap(joinRel(dir, fi.Name()), fi)
	}
	return infos, err
}

func (f *evidenceFS) Remove(p string) error {
	if !f.scratch.match(path.Base(rel(p))) {
		return &os.PathError{Op: "remove", Path: p, Err: os.ErrPermission}
	}
	return f.Filesystem.Remove(p)
}

func (f *evidenceFS) Rename(from, to string) error {
	return &os.LinkError{Op: "rename", Old: from, New: to, Err: os.ErrPermission}
}

func (f *evidenceFS) Symlink(target, link string) error {
	return &os.LinkError{Op: "symlink", Old: target, New: link, Err: os.ErrPermission}
}

// Capabilities drops billy's truncate capability so go-nfs never offers it.
func (f *evidenceFS) Capabilities() billy.Capability {
	return billy.WriteCapability | billy.ReadCapability | billy.ReadAndWriteCapability | billy.SeekCapability
}

// attrChanger is the billy.Change go-nfs applies client attributes through
// (CREATE's mode, SETATTR's mode/owner/times). Evidence metadata on disk
// belongs to the sink: owner and mode are what the examiner's account
// gives, and mtime is the arrival time, which is itself a record. Clients
// are told they succeeded (ESXi and libnfs abort a copy otherwise) and
// always see uid/gid 0, but nothing is applied. Content is never affected
// by this: size changes are vetted by the front end before go-nfs sees them.
type attrChanger struct{}

func (attrChanger) Chmod(string, os.FileMode) error            { return nil }
func (attrChanger) Lchown(string, int, int) error              { return nil }
func (attrChanger) Chown(string, int, int) error               { return nil }
func (attrChanger) Chtimes(string, time.Time, time.Time) error { return nil }
