//go:build !linux

package durable

import "os"

// StartWriteback is a no-op here: the final Sync does all the work.
func StartWriteback(f *os.File, off, n int64) {}
