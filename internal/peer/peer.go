// Package peer finds the real programs that tests run esxsink against
// (nfs-cp, qemu-img, hashdeep, sshd, busybox ...). Outside CI a missing peer
// skips the test; with ESXSINK_REQUIRE_PEERS=1 (set by .ci/run) it fails it,
// so CI can never go green by skipping.
package peer

import (
	"os"
	"os/exec"
	"testing"
)

// Required reports whether missing peers must fail tests.
func Required() bool { return os.Getenv("ESXSINK_REQUIRE_PEERS") == "1" }

// Require returns the path of the named program, or skips (fails under
// ESXSINK_REQUIRE_PEERS=1) the test when it is not installed.
func Require(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		if p, err := exec.LookPath(dir + "/" + name); err == nil {
			return p
		}
	}
	if Required() {
		tb.Fatalf("peer %s not installed and ESXSINK_REQUIRE_PEERS=1: install it (see .ci/run)", name)
	}
	tb.Skipf("peer %s not installed; skipping (set ESXSINK_REQUIRE_PEERS=1 to fail instead)", name)
	return ""
}
