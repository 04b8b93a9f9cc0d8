package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/esxsink/esxsink/internal/peer"
)

var esxsinkBin, labBin string // built once by TestMain

// TestMain builds the real binary once; the tests drive it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "esxsink-bin")
	if err != nil {
		panic(err)
	}
	esxsinkBin = filepath.Join(dir, "esxsink")
	labBin = filepath.Join(dir, "esxsink-lab")
	for bin, pkg := range map[string]string{esxsinkBin: ".", labBin: "../esxsink-lab"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// esx runs the binary and returns stdout+stderr and the exit status.
func esx(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, esxsinkBin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func sh(t *testing.T, dir, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

type servedCase struct {
	dir  string
	port int
	cmd  *exec.Cmd
}

// serveCase starts `esxsink serve` on a new case with 1 MiB pieces, so
// that small test files have several.
func serveCase(t *testing.T, extra ...string) *servedCase {
	t.Helper()
	return startServe(t, append([]string{"--piece", "1MiB"}, extra...)...)
}

// startServe starts `esxsink serve` on a new case, on loopback, with the
// given options added.
func startServe(t testing.TB, extra ...string) *servedCase {
	t.Helper()
	sc := &servedCase{dir: filepath.Join(t.TempDir(), "case 1"), port: freePort(t)}
	sc.cmd = exec.Command(esxsinkBin, append([]string{"serve", "--case", sc.dir, "--case-id", "T-1", "--examiner", "Test Examiner",
		"--address", "127.0.0.1", "--nfs-port", fmt.Sprint(sc.port), "--portmap", "off", "--allow", "127.0.0.1"}, extra...)...)
	stdout, _ := sc.cmd.StdoutPipe()
	sc.cmd.Stderr = io.Discard
	if err := sc.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.cmd.Process.Kill(); sc.cmd.Wait() })
	sc2 := bufio.NewScanner(stdout)
	for sc2.Scan() {
		if strings.Contains(sc2.Text(), "press Ctrl-C") {
			go io.Copy(io.Discard, stdout)
			return sc
		}
	}
	t.Fatal("esxsink serve did not start")
	return nil
}

func (sc *servedCase) url(name string) string {
	return fmt.Sprintf("nfs://127.0.0.1/esxsink/%s?nfsport=%d&mountport=%d&version=3", name, sc.port, sc.port)
}

func (sc *servedCase) stop(t *testing.T) {
	t.Helper()
	sc.cmd.Process.Signal(syscall.SIGINT)
	if err := sc.cmd.Wait(); err != nil {
		t.Fatalf("serve did not stop cleanly on SIGINT: %v", err)
	}
}

// TestServeVerifyExport is the examiner's whole loop with the real binary
// and real peers: serve, nfs-cp in, status, Ctrl-C, verify, export, and
// independent audits with hashdeep and md5sum -c / sha256sum -c; then a
// changed evidence byte and an edited log line each make verify fail,
// naming the file and piece, or the line.
func TestServeVerifyExport(t *testing.T) {
	cp := peer.Require(t, "nfs-cp")
	hashdeep := peer.Require(t, "hashdeep")
	sc := serveCase(t)
	ls := peer.Require(t, "nfs-ls")
	size := int64(256<<20 + 100)
	if testing.Short() {
		size = 5<<20 + 100
	}
	src := filepath.Join(t.TempDir(), "src")
	f, _ := os.Create(src)
	io.CopyN(f, rand.Reader, size)
	f.Close()
	small := filepath.Join(t.TempDir(), "web.vmx")
	os.WriteFile(small, []byte("displayName = \"web\"\n"), 0o644)
	for name, from := range map[string]string{"web-flat.vmdk": src, "web.vmx": small} {
		if out, err := sh(t, "", cp, from, sc.url(name)); err != nil {
			t.Fatalf("nfs-cp: %v %s", err, out)
		}
	}
	if out, err := sh(t, "", ls, strings.Replace(sc.url(""), "/esxsink/?", "/esxsink?", 1)); err != nil || !strings.Contains(out, "web-flat.vmdk") {
		t.Fatalf("nfs-ls of the export: %v\n%s", err, out)
	}
	out, code := esx(t, "", "status", sc.dir)
	if code != 0 || !strings.Contains(out, "web-flat.vmdk") || !strings.Contains(out, "receiving") {
		t.Fatalf("status (%d):\n%s", code, out)
	}
	sc.stop(t)

	out, code = esx(t, "", "verify", sc.dir)
	if code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("verify of an intact case: exit %d\n%s", code, out)
	}
	for _, format := range []string{"sums", "hashdeep", "dfxml"} {
		if out, code := esx(t, "", "export", "--format", format, sc.dir); code != 0 {
			t.Fatalf("export %s: %d %s", format, code, out)
		}
	}
	ev := filepath.Join(sc.dir, "evidence")
	for _, check := range [][]string{{"md5sum", "-c", "../MD5SUMS"}, {"sha256sum", "-c", "../SHA256SUMS"}, {hashdeep, "-l", "-r", "-a", "-k", "../hashdeep.txt", "."}} {
		if out, err := sh(t, ev, check[0], check[1:]...); err != nil {
			t.Fatalf("%v: %v\n%s", check, err, out)
		}
	}
	srcSum, _ := sh(t, "", "md5sum", src)
	mdSums, _ := os.ReadFile(filepath.Join(sc.dir, "MD5SUMS"))
	if !strings.Contains(string(mdSums), strings.Fields(srcSum)[0]+"  web-flat.vmdk") {
		t.Fatalf("MD5SUMS does not hold the source's md5:\n%s", mdSums)
	}

	// One changed byte in the third 1 MiB piece.
	p := filepath.Join(ev, "web-flat.vmdk")
	flip(t, p, 2<<20+17)
	out, code = esx(t, "", "verify", sc.dir)
	if code != 1 || !strings.Contains(out, "web-flat.vmdk") || !strings.Contains(out, "piece 2") {
		t.Fatalf("verify after a changed byte: exit %d, want 1 naming the file and piece 2\n%s", code, out)
	}
	if out, err := sh(t, ev, hashdeep, "-l", "-r", "-a", "-k", "../hashdeep.txt", "."); err == nil {
		t.Fatalf("hashdeep audit passed on changed evidence:\n%s", out)
	}
	flip(t, p, 2<<20+17)

	// An edited, a deleted and a swapped custody-log line.
	logPath := filepath.Join(sc.dir, "custody.jsonl")
	b, _ := os.ReadFile(logPath)
	lines := bytes.SplitAfter(b, []byte("\n"))
	tampered := map[string][]byte{
		"line 1": bytes.Replace(b, []byte(`"examiner":"Test Examiner"`), []byte(`"examiner":"Someone Else"`), 1),
		"line 3": bytes.Join(append(append([][]byte{}, lines[:2]...), lines[3:]...), nil),
		"line 2": bytes.Join(append([][]byte{lines[0], lines[2], lines[1]}, lines[3:]...), nil),
	}
	for want, content := range tampered {
		os.WriteFile(logPath, content, 0o644)
		out, code = esx(t, "", "verify", sc.dir)
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("verify after tampering with %s: exit %d, want 1 naming it\n%s", want, code, out)
		}
	}
	os.WriteFile(logPath, b, 0o644)
	if _, code := esx(t, "", "verify", sc.dir); code != 0 {
		t.Fatal("restored case does not verify")
	}
}

func flip(t *testing.T, p string, off int64) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	f.ReadAt(b, off)
	b[0] ^= 0x01
	f.WriteAt(b, off)
}

// TestUsageErrors exit with status 2 and say what to do.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"verify", dir}, "not a case"},
		{[]string{"verify"}, "usage"},
		{[]string{"serve", "--case", filepath.Join(dir, "c"), "--case-id", "X", "--examiner", "Y", "--nfs-port", "0"}, "--allow"},
		{[]string{"serve", "--case", filepath.Join(dir, "c"), "--allow", "127.0.0.1", "--nfs-port", "0"}, "--case-id"},
		{[]string{"serve", "--case", filepath.Join(dir, "c"), "--case-id", "X", "--examiner", "Y", "--allow", "not-an-ip"}, "not an IP"},
		{[]string{"export", "--format", "zip", dir}, "not a case"},
		{[]string{"collect", "--host", "127.0.0.1:1", "--case", filepath.Join(dir, "c"), "--all", "--host-hash", "sha1"}, "not one the sink also computes"},
		{[]string{"collect", "--host", "127.0.0.1:1", "--case", filepath.Join(dir, "c"), "--all", "--host-hash", "sha256", "--verify", "two-pass"}, "must compute md5"},
		{[]string{"collect", "--host", "127.0.0.1:1", "--case", filepath.Join(dir, "c"), "--all", "--host-hash", ","}, "at least one hash"},
	}
	for _, c := range cases {
		out, code := esx(t, dir, c.args...)
		if code != 2 || !strings.Contains(out, c.want) {
			t.Errorf("esxsink %s: exit %d, want 2 with %q\n%s", strings.Join(c.args, " "), code, c.want, out)
		}
	}
}

// TestEveryCommandExplainsEveryFlag: --help works and every flag has a usage text.
func TestEveryCommandExplainsEveryFlag(t *testing.T) {
	t.Parallel()
	for _, cmd := range newApp().Commands {
		if cmd.Hidden {
			continue // `esxsink lab` only says where the lab went
		}
		for _, f := range cmd.Flags {
			if df, ok := f.(interface{ GetUsage() string }); ok && df.GetUsage() == "" {
				t.Errorf("%s: flag %v has no usage text", cmd.Name, f.Names())
			}
		}
		if out, code := esx(t, "", cmd.Name, "--help"); code != 0 || !strings.Contains(out, cmd.Name) {
			t.Errorf("%s --help: exit %d\n%s", cmd.Name, code, out)
		}
	}
}
