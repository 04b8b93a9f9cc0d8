//go:build !unix

package peer

// syncAll is a no-op where there is no sync(2); the benches that settle
// the disk run on Linux.
func syncAll() {}
