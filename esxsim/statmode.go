package esxsim

import "io/fs"

// rawMode is the st_mode word stat(2) returns, which `stat -c %f` prints in
// hex (81a4 for a 0644 file): the esxi parsers read the file type from its
// top bits, so the simulator must give the same numbers as the host.
func rawMode(m fs.FileMode) uint32 {
	t := uint32(0o100000) // S_IFREG
	switch {
	case m&fs.ModeDir != 0:
		t = 0o040000
	case m&fs.ModeSymlink != 0:
		t = 0o120000
	case m&fs.ModeCharDevice != 0:
		t = 0o020000
	case m&fs.ModeDevice != 0:
		t = 0o060000
	case m&fs.ModeNamedPipe != 0:
		t = 0o010000
	case m&fs.ModeSocket != 0:
		t = 0o140000
	}
	v := t | uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}

// fileKind is the file type as busybox stat names it (%F and the long
// format).
func fileKind(fi *fileInfo) string {
	m := fi.mode
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeCharDevice != 0:
		return "character special file"
	case m&fs.ModeDevice != 0:
		return "block special file"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case fi.size == 0:
		return "regular empty file"
	}
	return "regular file"
}
