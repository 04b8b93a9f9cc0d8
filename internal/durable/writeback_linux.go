package durable

import (
	"os"
	"syscall"
)

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writeback of the
// range without waiting for it.
const syncFileRangeWrite = 2

// StartWriteback asks the kernel to begin writing [off, off+n) of f to
// disk now, so that writeback overlaps the rest of a long write and the
// final fsync has little left to do. It neither waits for the disk nor
// promises durability (only a Sync does); a failure only costs that
// overlap.
func StartWriteback(f *os.File, off, n int64) {
	_ = syscall.SyncFileRange(int(f.Fd()), off, n, syncFileRangeWrite)
}
