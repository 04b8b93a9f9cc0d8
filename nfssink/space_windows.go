//go:build windows

package nfssink

import (
	"errors"

	"golang.org/x/sys/windows"
)

func diskSpace(dir string) (space, error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return space{}, err
	}
	var avail, total, free uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, &free); err != nil {
		return space{}, err
	}
	// NTFS has no fixed inode count; report plenty.
	return space{total: total, free: free, avail: avail, files: 1 << 32, freeFiles: 1 << 31}, nil
}

func osNoSpace(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL)
}

func isPermission(err error) bool {
	return errors.Is(err, windows.WSAEACCES) || errors.Is(err, windows.ERROR_ACCESS_DENIED)
}

func isAddrInUse(err error) bool { return errors.Is(err, windows.WSAEADDRINUSE) }

// osTooBig reports a write past the file system's largest file.
func osTooBig(err error) bool { return errors.Is(err, windows.ERROR_FILE_TOO_LARGE) }
