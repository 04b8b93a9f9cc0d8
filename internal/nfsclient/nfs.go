package nfsclient

import (
	"fmt"
	"io/fs"
	"syscall"
	"time"

	"github.com/esxsink/esxsink/internal/xdr"
)

// NFSv3 procedure numbers (RFC 1813).
const (
	ProcNull        = 0
	ProcGetattr     = 1
	ProcSetattr     = 2
	ProcLookup      = 3
	ProcAccess      = 4
	ProcReadlink    = 5
	ProcRead        = 6
	ProcWrite       = 7
	ProcCreate      = 8
	ProcMkdir       = 9
	ProcSymlink     = 10
	ProcMknod       = 11
	ProcRemove      = 12
	ProcRmdir       = 13
	ProcRename      = 14
	ProcLink        = 15
	ProcReaddir     = 16
	ProcReaddirplus = 17
	ProcFSStat      = 18
	ProcFSInfo      = 19
	ProcPathconf    = 20
	ProcCommit      = 21
)

// MaxFileHandle is NFSv3's limit on a file handle's length.
const MaxFileHandle = 64

// FileHandle is an NFSv3 file handle.
type FileHandle []byte

// Status is a failing NFSv3 status; it is returned as an error.
type Status uint32

// NFSv3 status codes.
const (
	ErrPerm        Status = 1
	ErrNoEnt       Status = 2
	ErrIO          Status = 5
	ErrNXIO        Status = 6
	ErrAcces       Status = 13
	ErrExist       Status = 17
	ErrXDev        Status = 18
	ErrNoDev       Status = 19
	ErrNotDir      Status = 20
	ErrIsDir       Status = 21
	ErrInval       Status = 22
	ErrFBig        Status = 27
	ErrNoSpc       Status = 28
	ErrROFS        Status = 30
	ErrMLink       Status = 31
	ErrNameTooLong Status = 63
	ErrNotEmpty    Status = 66
	ErrDQuot       Status = 69
	ErrStale       Status = 70
	ErrRemote      Status = 71
	ErrBadHandle   Status = 10001
	ErrNotSync     Status = 10002
	ErrBadCookie   Status = 10003
	ErrNotSupp     Status = 10004
	ErrTooSmall    Status = 10005
	ErrServerFault Status = 10006
	ErrBadType     Status = 10007
	ErrJukebox     Status = 10008
)

var statusNames = map[Status]string{
	ErrPerm: "NFS3ERR_PERM", ErrNoEnt: "NFS3ERR_NOENT", ErrIO: "NFS3ERR_IO", ErrNXIO: "NFS3ERR_NXIO",
	ErrAcces: "NFS3ERR_ACCES", ErrExist: "NFS3ERR_EXIST", ErrXDev: "NFS3ERR_XDEV", ErrNoDev: "NFS3ERR_NODEV",
	ErrNotDir: "NFS3ERR_NOTDIR", ErrIsDir: "NFS3ERR_ISDIR", ErrInval: "NFS3ERR_INVAL", ErrFBig: "NFS3ERR_FBIG",
	ErrNoSpc: "NFS3ERR_NOSPC", ErrROFS: "NFS3ERR_ROFS", ErrMLink: "NFS3ERR_MLINK", ErrNameTooLong: "NFS3ERR_NAMETOOLONG",
	ErrNotEmpty: "NFS3ERR_NOTEMPTY", ErrDQuot: "NFS3ERR_DQUOT", ErrStale: "NFS3ERR_STALE", ErrRemote: "NFS3ERR_REMOTE",
	ErrBadHandle: "NFS3ERR_BADHANDLE", ErrNotSync: "NFS3ERR_NOT_SYNC", ErrBadCookie: "NFS3ERR_BAD_COOKIE",
	ErrNotSupp: "NFS3ERR_NOTSUPP", ErrTooSmall: "NFS3ERR_TOOSMALL", ErrServerFault: "NFS3ERR_SERVERFAULT",
	ErrBadType: "NFS3ERR_BADTYPE", ErrJukebox: "NFS3ERR_JUKEBOX",
}

func (s Status) Error() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("NFS3ERR_%d", uint32(s))
}

// Errno maps the status to the local error a Unix NFS client would
// report for it (the first fifteen statuses are errno values).
func (s Status) Errno() syscall.Errno {
	switch {
	case s < 100:
		return syscall.Errno(s)
	case s == ErrNotSupp:
		return syscall.EOPNOTSUPP
	case s == ErrStale, s == ErrBadHandle:
		return syscall.ESTALE
	case s == ErrJukebox:
		return syscall.EAGAIN
	}
	return syscall.EIO
}

// Is lets errors.Is match a Status against the corresponding errno and
// fs sentinel (errors.Is(err, fs.ErrNotExist) for NFS3ERR_NOENT).
func (s Status) Is(target error) bool {
	switch target {
	case fs.ErrNotExist:
		return s == ErrNoEnt
	case fs.ErrExist:
		return s == ErrExist
	case fs.ErrPermission:
		return s == ErrPerm || s == ErrAcces || s == ErrROFS
	}
	if e, ok := target.(syscall.Errno); ok {
		return s.Errno() == e
	}
	return false
}

// FileType is an NFSv3 ftype3.
type FileType uint32

// File types.
const (
	TypeReg  FileType = 1
	TypeDir  FileType = 2
	TypeBlk  FileType = 3
	TypeChr  FileType = 4
	TypeLnk  FileType = 5
	TypeSock FileType = 6
	TypeFIFO FileType = 7
)

// Attr is an NFSv3 fattr3.
type Attr struct {
	Type   FileType
	Mode   uint32
	Nlink  uint32
	UID    uint32
	GID    uint32
	Size   uint64
	Used   uint64
	Rdev   [2]uint32
	FSID   uint64
	FileID uint64
	Atime  time.Time
	Mtime  time.Time
	Ctime  time.Time
}

// FileMode converts the attributes to an fs.FileMode.
func (a Attr) FileMode() fs.FileMode {
	m := fs.FileMode(a.Mode & 0o777)
	switch a.Type {
	case TypeDir:
		m |= fs.ModeDir
	case TypeLnk:
		m |= fs.ModeSymlink
	case TypeBlk:
		m |= fs.ModeDevice
	case TypeChr:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case TypeSock:
		m |= fs.ModeSocket
	case TypeFIFO:
		m |= fs.ModeNamedPipe
	}
	return m
}

func decodeTime(d *xdr.Decoder) time.Time {
	s := u32(d)
	ns := u32(d)
	return time.Unix(int64(s), int64(ns)).UTC()
}

func decodeAttr(d *xdr.Decoder) Attr {
	var a Attr
	a.Type = FileType(u32(d))
	a.Mode = u32(d)
	a.Nlink = u32(d)
	a.UID = u32(d)
	a.GID = u32(d)
	a.Size = u64(d)
	a.Used = u64(d)
	a.Rdev[0] = u32(d)
	a.Rdev[1] = u32(d)
	a.FSID = u64(d)
	a.FileID = u64(d)
	a.Atime = decodeTime(d)
	a.Mtime = decodeTime(d)
	a.Ctime = decodeTime(d)
	return a
}

// postOpAttr decodes post_op_attr; nil when absent.
func postOpAttr(d *xdr.Decoder) *Attr {
	if !boolean(d) {
		return nil
	}
	a := decodeAttr(d)
	return &a
}

// skipWcc skips wcc_data.
func skipWcc(d *xdr.Decoder) {
	if boolean(d) {
		u64(d)
		u64(d)
		u64(d)
		u64(d)
		u64(d)
	}
	postOpAttr(d)
}

func postOpFH(d *xdr.Decoder) FileHandle {
	if !boolean(d) {
		return nil
	}
	return FileHandle(clone(opaque(d, MaxFileHandle)))
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// SetAttr is an NFSv3 sattr3: nil fields are left unchanged.
type SetAttr struct {
	Mode  *uint32
	UID   *uint32
	GID   *uint32
	Size  *uint64
	Mtime *time.Time // set to this time (client time)
}

func (s SetAttr) encode(e *xdr.Encoder) {
	for _, v := range []*uint32{s.Mode, s.UID, s.GID} {
		e.Bool(v != nil)
		if v != nil {
			e.Uint32(*v)
		}
	}
	e.Bool(s.Size != nil)
	if s.Size != nil {
		e.Uint64(*s.Size)
	}
	e.Uint32(0) // atime: don't change
	if s.Mtime != nil {
		e.Uint32(2) // SET_TO_CLIENT_TIME
		e.Uint32(uint32(s.Mtime.Unix()))
		e.Uint32(uint32(s.Mtime.Nanosecond()))
	} else {
		e.Uint32(0)
	}
}

// Stable is WRITE's stable_how.
type Stable uint32

// Write stability levels.
const (
	Unstable Stable = 0
	DataSync Stable = 1
	FileSync Stable = 2
)

// FSInfo is the FSINFO result: transfer sizes and limits.
type FSInfo struct {
	RTMax, RTPref, RTMult uint32
	WTMax, WTPref, WTMult uint32
	DTPref                uint32
	MaxFileSize           uint64
	Properties            uint32
}

// FSStat is the FSSTAT result: sizes in bytes, counts of files.
type FSStat struct {
	TotalBytes, FreeBytes, AvailBytes uint64
	TotalFiles, FreeFiles, AvailFiles uint64
}

// DirEntry is one READDIRPLUS entry.
type DirEntry struct {
	Name   string
	FileID uint64
	Attr   *Attr      // nil when the server sent none
	Handle FileHandle // nil when the server sent none
}
