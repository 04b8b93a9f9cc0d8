//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package hashlog

import "os"

// lockFile is a no-op here: these systems (Plan 9, wasm, ...) have no file
// lock esxsink uses, so two writers on one case are not prevented. Run
// one sink per case.
func lockFile(*os.File) error { return nil }

// syncDir is a no-op on these systems.
func syncDir(string) error { return nil }
