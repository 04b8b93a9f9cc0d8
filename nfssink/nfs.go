package nfssink

import (
	"os"
	"time"
)

// NFSv3 procedures (RFC 1813).
const (
	nfsProcNull    = 0
	nfsProcGetattr = 1
	nfsProcSetattr = 2
	nfsProcLookup  = 3
	nfsProcWrite   = 7
	nfsProcCreate  = 8
	nfsProcMkdir   = 9
	nfsProcSymlink = 10
	nfsProcMknod   = 11
	nfsProcRemove  = 12
	nfsProcRmdir   = 13
	nfsProcRename  = 14
	nfsProcLink    = 15
	nfsProcFSInfo  = 19
	nfsProcCommit  = 21
)

var nfsProcNames = map[uint32]string{
	0: "NULL", 1: "GETATTR", 2: "SETATTR", 3: "LOOKUP", 4: "ACCESS", 5: "READLINK", 6: "READ",
	7: "WRITE", 8: "CREATE", 9: "MKDIR", 10: "SYMLINK", 11: "MKNOD", 12: "REMOVE", 13: "RMDIR",
	14: "RENAME", 15: "LINK", 16: "READDIR", 17: "READDIRPLUS", 18: "FSSTAT", 19: "FSINFO",
	20: "PATHCONF", 21: "COMMIT",
}

// NFSv3 status codes used by the front end.
const (
	nfs3OK             = 0
	nfs3ErrPerm        = 1
	nfs3ErrNoEnt       = 2
	nfs3ErrIO          = 5
	nfs3ErrAcces       = 13
	nfs3ErrExist       = 17
	nfs3ErrNotDir      = 20
	nfs3ErrIsDir       = 21
	nfs3ErrInval       = 22
	nfs3ErrFBig        = 27
	nfs3ErrNoSpc       = 28
	nfs3ErrROFS        = 30
	nfs3ErrNameLong    = 63
	nfs3ErrStale       = 70
	nfs3ErrBadHandle   = 10001
	nfs3ErrNotSupp     = 10004
	nfs3ErrServerFault = 10006
)

// Write stability levels (stable_how).
const (
	unstable = 0
	dataSync = 1
	fileSync = 2
)

// maxWrite is the largest WRITE we accept and advertise in FSINFO
// (wtmax/rtmax). ESXi and libnfs both split larger I/O to fit.
const maxWrite = 1 << 20

// maxFileSize is the largest file advertised in FSINFO; a WRITE past it
// gets NFS3ERR_FBIG (so does one past the evidence file system's own limit).
const maxFileSize = 1 << 62

// maxFileHandle is NFSv3's limit on file handle length.
const maxFileHandle = 64

// maxName is the longest file name we accept, in bytes.
const maxName = 255

// attrs is the subset of fattr3 the front end reports. It mirrors what
// go-nfs reports for the same file (fsid 0, uid/gid 0, the Go mode bits), so
// a client sees one consistent view whichever side answered.
type attrs struct {
	dir    bool
	mode   os.FileMode
	size   uint64
	fileid uint64
	mtime  time.Time
}

func attrsFromInfo(fi os.FileInfo, fileid uint64) attrs {
	return attrs{dir: fi.IsDir(), mode: fi.Mode(), size: uint64(fi.Size()), fileid: fileid, mtime: fi.ModTime()}
}

func putTime(w *xdrWriter, t time.Time) {
	w.Uint32(uint32(t.Unix()))
	w.Uint32(uint32(t.Nanosecond()))
}

// putFattr writes a fattr3.
func putFattr(w *xdrWriter, a attrs) {
	if a.dir {
		w.Uint32(2) // NF3DIR
	} else {
		w.Uint32(1) // NF3REG
	}
	w.Uint32(uint32(a.mode))
	w.Uint32(1) // nlink
	w.Uint32(0) // uid: ESXi expects root to own what it writes
	w.Uint32(0) // gid
	w.Uint64(a.size)
	w.Uint64(a.size) // used
	w.Uint32(0)      // rdev
	w.Uint32(0)
	w.Uint64(0) // fsid
	w.Uint64(a.fileid)
	putTime(w, a.mtime) // atime
	putTime(w, a.mtime)
	putTime(w, a.mtime) // ctime
}

// putPostOp writes post_op_attr; a nil a means "no attributes".
func putPostOp(w *xdrWriter, a *attrs) {
	if a == nil {
		w.Bool(false)
		return
	}
	w.Bool(true)
	putFattr(w, *a)
}

// putWcc writes wcc_data with no pre-op attributes: clients then simply
// take the post-op attributes, which costs us no stat per WRITE.
func putWcc(w *xdrWriter, post *attrs) {
	w.Bool(false)
	putPostOp(w, post)
}
