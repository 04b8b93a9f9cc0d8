//go:build unix

package nfssink

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

func diskSpace(dir string) (space, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return space{}, err
	}
	bs := uint64(st.Bsize)
	return space{total: st.Blocks * bs, free: st.Bfree * bs, avail: st.Bavail * bs, files: st.Files, freeFiles: st.Ffree}, nil
}

func osNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func isPermission(err error) bool {
	return errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

func isAddrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }

// osTooBig reports a write past the file system's largest file.
func osTooBig(err error) bool { return errors.Is(err, syscall.EFBIG) }
