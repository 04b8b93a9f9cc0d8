//go:build unix

package peer

import "syscall"

// syncAll flushes every file system's dirty data.
func syncAll() { syscall.Sync() }
