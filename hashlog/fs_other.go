//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package hashlog

import "os"

// lockFile is a no-op here: the standard library offers no portable file
// lock on these systems (notably Windows), so two writers on one case are
// not prevented. Run one sink per case.
func lockFile(*os.File) error { return nil }

// syncDir is a no-op: Windows cannot open a folder for syncing, and NTFS
// journals the directory entry with the file's metadata.
func syncDir(string) error { return nil }
