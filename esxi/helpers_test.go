package esxi

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/internal/peer"
)

// fixture returns testdata/name.
func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// host is a stand-in ESXi shell: busybox sh with only busybox applets on
// PATH (as on ESXi, where dd, tee, md5sum and stat are busybox), plus fake
// vim-cmd, esxcfg-nas, esxcli and vmkfstools that print their argv.
type host struct {
	bb   string // busybox binary
	bin  string // PATH
	work string // working directory of every command
}

// fakeTools print their name and arguments, each followed by a NUL, so a
// test sees exactly the argv the shell built.
var fakeTools = []string{"vim-cmd", "esxcfg-nas", "esxcli", "vmkfstools"}

func newHost(t testing.TB) *host {
	t.Helper()
	bb := peer.Require(t, "busybox")
	root := t.TempDir()
	h := &host{bb: bb, bin: filepath.Join(root, "bin"), work: filepath.Join(root, "work")}
	for _, d := range []string{h.bin, h.work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, name := range strings.Fields(string(list)) {
		if err := os.Symlink(bb, filepath.Join(h.bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range fakeTools {
		h.script(t, name, `printf '%s\0' "${0##*/}" "$@"`)
	}
	return h
}

// script installs (or replaces) a busybox sh script on the host's PATH.
func (h *host) script(t testing.TB, name, body string) {
	t.Helper()
	p := filepath.Join(h.bin, name)
	_ = os.Remove(p)
	if err := os.WriteFile(p, []byte("#!"+h.bb+" sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// run runs one command line as ESXi's sshd would: sh -c LINE.
func (h *host) run(t testing.TB, line string) (stdout, stderr string, rc int) {
	t.Helper()
	cmd := exec.Command(h.bb, "sh", "-c", line)
	cmd.Env = []string{"PATH=" + h.bin, "HOME=" + h.work, "LC_ALL=C"}
	cmd.Dir = h.work
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		rc = ee.ExitCode()
		if rc < 0 {
			rc = 128 + 9 // killed by a signal
		}
	default:
		t.Fatalf("run %q: %v", line, err)
	}
	return o.String(), e.String(), rc
}

// mustRun runs line and fails the test unless it exits 0.
func (h *host) mustRun(t testing.TB, line string) (stdout, stderr string) {
	t.Helper()
	o, e, rc := h.run(t, line)
	if rc != 0 {
		t.Fatalf("%q: exit %d\nstdout: %q\nstderr: %q", line, rc, o, e)
	}
	return o, e
}

// argv runs a command built for one of the fake tools and returns the argv
// the fake received.
func (h *host) argv(t testing.TB, line string) []string {
	t.Helper()
	o, _ := h.mustRun(t, line)
	if !strings.HasSuffix(o, "\x00") {
		t.Fatalf("%q: fake tool output %q does not end in NUL", line, o)
	}
	return strings.Split(strings.TrimSuffix(o, "\x00"), "\x00")
}

// okFn returns a function that unwraps a builder's result, failing the
// test on an error: ok := okFn(t); line := ok(CmdStat(p)).
func okFn(t testing.TB) func(string, error) string {
	return func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// noFile fails the test if any file named name exists under the dirs.
func noFile(t testing.TB, name string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.Name() == name {
				t.Errorf("%s exists: a shell expansion ran", p)
			}
			return nil
		})
	}
}
