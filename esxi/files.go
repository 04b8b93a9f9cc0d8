package esxi

import (
	"strconv"
	"strings"
	"time"
)

// FileMode is a raw st_mode as the host's stat prints it (%f, hex).
type FileMode uint32

const modeType = 0xf000

// IsRegular reports a regular file (on ESXi, /vmfs/devices/disks entries
// are regular files too).
func (m FileMode) IsRegular() bool { return m&modeType == 0x8000 }

// IsDir reports a directory.
func (m FileMode) IsDir() bool { return m&modeType == 0x4000 }

// IsSymlink reports a symbolic link (only [ParseFolderListing] sees these;
// [CmdStat] follows links).
func (m FileMode) IsSymlink() bool { return m&modeType == 0xa000 }

// IsDevice reports a block or character device.
func (m FileMode) IsDevice() bool { return m&modeType == 0x6000 || m&modeType == 0x2000 }

// Perm is the permission bits.
func (m FileMode) Perm() uint32 { return uint32(m) & 0o7777 }

// statFormat is the busybox stat -c format behind [CmdStat]: numbers only,
// and no file name, so no name can break the line apart.
const statFormat = "%f %s %b %B %u %g %h %i %X %Y %Z"

// FileStat is the host's view of one file.
type FileStat struct {
	Mode                FileMode
	Size                int64 // bytes
	Blocks              int64 // allocated blocks of BlockSize; less than Size/BlockSize for a thin disk
	BlockSize           int64
	UID, GID            int
	Links               int
	Inode               uint64
	Atime, Mtime, Ctime time.Time // UTC
}

// CmdStat stats a file on the host, following symbolic links (a
// /vmfs/devices/disks/vml.* name is a link to the device, and the device's
// size is what a copy needs). Parse with [ParseStat].
func CmdStat(path string) (string, error) {
	q, err := quotePath("stat", "file", path)
	if err != nil {
		return "", err
	}
	return "stat -L -c '" + statFormat + "' " + q, nil
}

// ParseStat parses the output of [CmdStat].
func ParseStat(out string) (FileStat, error) {
	const src = "stat"
	var st FileStat
	ls := lines(out)
	if len(ls) != 1 {
		return st, parseErr(src, 0, "want one line, got %d", len(ls))
	}
	f := strings.Fields(ls[0])
	if len(f) != 11 {
		return st, parseErr(src, 1, "want 11 fields (%s), got %d", statFormat, len(f))
	}
	mode, err := strconv.ParseUint(f[0], 16, 32)
	if err != nil {
		return st, parseErr(src, 1, "mode %q is not hex", clip(f[0]))
	}
	st.Mode = FileMode(mode)
	ints := []*int64{&st.Size, &st.Blocks, &st.BlockSize}
	for i, p := range ints {
		if *p, err = strconv.ParseInt(f[1+i], 10, 64); err != nil || *p < 0 {
			return st, parseErr(src, 1, "field %d %q is not a count", 2+i, clip(f[1+i]))
		}
	}
	small := []*int{&st.UID, &st.GID, &st.Links}
	for i, p := range small {
		if *p, err = strconv.Atoi(f[4+i]); err != nil || *p < 0 {
			return st, parseErr(src, 1, "field %d %q is not a number", 5+i, clip(f[4+i]))
		}
	}
	if st.Inode, err = strconv.ParseUint(f[7], 10, 64); err != nil {
		return st, parseErr(src, 1, "inode %q is not a number", clip(f[7]))
	}
	times := []*time.Time{&st.Atime, &st.Mtime, &st.Ctime}
	for i, p := range times {
		sec, err := strconv.ParseInt(f[8+i], 10, 64)
		if err != nil {
			return st, parseErr(src, 1, "time %q is not seconds since 1970", clip(f[8+i]))
		}
		*p = time.Unix(sec, 0).UTC()
	}
	return st, nil
}

// FolderEntry is one entry of [CmdLsVMFolder]'s output. Links are not
// followed.
type FolderEntry struct {
	Name   string // may contain any byte but NUL and '/'
	Mode   FileMode
	Size   int64
	Blocks int64 // 512-byte blocks allocated
	Mtime  time.Time
}

// CmdLsVMFolder lists a VM folder: every entry (dot files too), with its
// type, size, allocation and mtime. ls -l output cannot be parsed exactly
// (names may hold spaces and newlines), so a shell loop stats each entry
// and prints "MODE SIZE BLOCKS MTIME NAME" ending in a NUL byte, the one
// byte no name can contain. Parse with [ParseFolderListing].
func CmdLsVMFolder(dir string) (string, error) {
	q, err := quotePath("list folder", "folder", dir)
	if err != nil {
		return "", err
	}
	// "./$f": a name starting with "-" stays a name. A pattern that
	// matches nothing stays literal; [ -e ] || [ -h ] drops it.
	return "cd " + q + ` || exit 1; rc=0; for f in * .*; do case $f in .|..) continue;; esac; ` +
		`[ -e "$f" ] || [ -h "$f" ] || continue; ` +
		`s=$(stat -c '%f %s %b %Y' "./$f") || { rc=1; continue; }; printf '%s %s\0' "$s" "$f"; done; exit $rc`, nil
}

// ParseFolderListing parses the output of [CmdLsVMFolder].
func ParseFolderListing(out string) ([]FolderEntry, error) {
	const src = "folder listing"
	if out == "" {
		return nil, nil
	}
	if !strings.HasSuffix(out, "\x00") {
		return nil, parseErr(src, 0, "output does not end with a NUL byte: it was cut short")
	}
	recs := strings.Split(strings.TrimSuffix(out, "\x00"), "\x00")
	entries := make([]FolderEntry, 0, len(recs))
	for i, r := range recs {
		f := strings.SplitN(r, " ", 5)
		if len(f) != 5 || f[4] == "" {
			return nil, parseErr(src, 0, "entry %d %q is not MODE SIZE BLOCKS MTIME NAME", i+1, clip(r))
		}
		mode, err1 := strconv.ParseUint(f[0], 16, 32)
		size, err2 := strconv.ParseInt(f[1], 10, 64)
		blocks, err3 := strconv.ParseInt(f[2], 10, 64)
		mtime, err4 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || size < 0 || blocks < 0 {
			return nil, parseErr(src, 0, "entry %d %q has a malformed number", i+1, clip(r))
		}
		if strings.Contains(f[4], "/") {
			return nil, parseErr(src, 0, "entry %d name %q contains '/'", i+1, clip(f[4]))
		}
		entries = append(entries, FolderEntry{Name: f[4], Mode: FileMode(mode), Size: size,
			Blocks: blocks, Mtime: time.Unix(mtime, 0).UTC()})
	}
	return entries, nil
}

// CmdFindVMX finds .vmx files under root, at most maxDepth levels down (0:
// no limit; a VM is usually at /vmfs/volumes/DATASTORE/VM/VM.vmx, depth 3
// from /vmfs/volumes). A trailing "/" is added so that a root that is a
// datastore label (a symbolic link to /vmfs/volumes/UUID) is followed. Run
// it before the sink is mounted, or it walks the sink too. Parse with
// [ParseFindOutput].
func CmdFindVMX(root string, maxDepth int) (string, error) {
	if !strings.HasSuffix(root, "/") {
		root += "/"
	}
	q, err := quotePath("find", "root", root)
	if err != nil {
		return "", err
	}
	if maxDepth < 0 {
		return "", argErr("find", "depth", strconv.Itoa(maxDepth), "is negative")
	}
	s := "find " + q
	if maxDepth > 0 {
		s += " -maxdepth " + strconv.Itoa(maxDepth)
	}
	return s + " -type f -name '*.vmx'", nil
}

// ParseFindOutput parses find's output: one absolute path a line. busybox
// find on older ESXi may lack -print0, so a path containing a newline comes
// out as two lines; each piece then fails to open and the orchestrator
// reports it rather than reading the wrong file.
func ParseFindOutput(out string) ([]string, error) {
	var paths []string
	for i, l := range lines(out) {
		if l == "" {
			continue
		}
		if !strings.HasPrefix(l, "/") {
			return nil, parseErr("find", i+1, "%q is not an absolute path", clip(l))
		}
		paths = append(paths, l)
	}
	return paths, nil
}

// CmdReadFile prints at most max bytes of a small file (.vmx, .vmsd, a
// descriptor) so that a wrong path to a multi-gigabyte extent cannot flood
// the session.
func CmdReadFile(path string, max int64) (string, error) {
	q, err := quotePath("read", "file", path)
	if err != nil {
		return "", err
	}
	if max < 1 {
		return "", argErr("read", "size limit", strconv.FormatInt(max, 10), "is not positive")
	}
	return "head -c " + strconv.FormatInt(max, 10) + " < " + q, nil
}

// LockFilePrefix starts the names of the lock files ESXi's NFSv3 client
// creates beside the files it opens (.lck-<fileid>): not evidence.
const LockFilePrefix = ".lck-"
