package nfssink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/hashlog"
)

// TestMain lets the test binary run as a standalone sink process, so a
// test can SIGKILL a real sink mid-copy and start it again.
func TestMain(m *testing.M) {
	if dir := os.Getenv("ESXSINK_TEST_SINK_CASE"); dir != "" {
		os.Exit(runHelperSink(dir, os.Getenv("ESXSINK_TEST_SINK_PORT")))
	}
	os.Exit(m.Run())
}

func runHelperSink(caseDir, port string) int {
	p, _ := strconv.Atoi(port)
	log, err := hashlog.Open(caseDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer log.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	s, err := New(Config{
		EvidenceDir: hashlog.EvidenceDir(caseDir), StateDir: filepath.Join(caseDir, ".esxsink"),
		Address: "127.0.0.1", NFSPort: p, Portmap: "off", IdleFinalize: -1,
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Log: log,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err == nil {
		err = s.Start(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	fmt.Println("ready")
	<-ctx.Done()
	if err := s.Close("interrupted"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func startHelperSink(t *testing.T, caseDir string, port int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ESXSINK_TEST_SINK_CASE="+caseDir, "ESXSINK_TEST_SINK_PORT="+strconv.Itoa(port))
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("helper sink did not start: %q %v", buf, err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// TestSinkKilledMidCopy: a sink process is SIGKILLed in the middle of a
// copy and restarted on the same case. The client carries on with its old
// file handle on a new connection, sees a new write verifier, resends what
// was not committed (as NFSv3 clients do), and the final hashes are right.
// The custody log shows both starts and the resumed file, and verifies.
func TestSinkKilledMidCopy(t *testing.T) {
	t.Parallel()
	caseDir := t.TempDir()
	port := freePort(t)
	data := pseudoRandom(24<<20, 11)
	const chunk = 1 << 20
	first := startHelperSink(t, caseDir, port)
	c := dialRPC(t, fmt.Sprintf("127.0.0.1:%d", port))
	_, root := c.mount("/esxsink")
	_, fh := c.create(root, "vm-flat.vmdk", createGuarded)
	committed := 0
	var verf []byte
	for off := 0; off < 12<<20; off += chunk {
		st, _, _, v, err := c.write(fh, uint64(off), data[off:off+chunk], unstable)
		if err != nil || st != nfs3OK {
			t.Fatal(st, err)
		}
		verf = v
		if off == 6<<20 {
			if st, cv := c.commit(fh); st != nfs3OK || !bytes.Equal(cv, verf) {
				t.Fatal("commit before the kill failed")
			}
			committed = off + chunk
		}
	}
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()

	second := startHelperSink(t, caseDir, port)
	c2 := dialRPC(t, fmt.Sprintf("127.0.0.1:%d", port))
	// The old handle, on a new connection to a new process.
	st, v2 := c2.commit(fh)
	if st != nfs3OK {
		t.Fatalf("old handle after restart: status %d (STALE is %d)", st, nfs3ErrStale)
	}
	if bytes.Equal(v2, verf) {
		t.Fatal("write verifier did not change across the restart")
	}
	// Verifier changed: resend everything after the last good commit.
	for off := committed; off < len(data); off += chunk {
		if st, _, _, _, err := c2.write(fh, uint64(off), data[off:off+chunk], unstable); err != nil || st != nfs3OK {
			t.Fatal(st, err)
		}
	}
	if st, _ := c2.commit(fh); st != nfs3OK {
		t.Fatal("final commit", st)
	}
	second.Process.Signal(syscall.SIGINT)
	if err := second.Wait(); err != nil {
		t.Fatalf("sink did not stop cleanly: %v", err)
	}

	recs, findings, err := hashlog.ReadLog(hashlog.LogPath(caseDir))
	if err != nil || len(findings) != 0 {
		t.Fatalf("log: %v %v", err, findings)
	}
	var starts, resumed int
	var final custody.FileFinalized
	for _, r := range recs {
		switch r.Type {
		case custody.TypeSinkStarted:
			starts++
		case custody.TypeFileResumed:
			resumed++
		case custody.TypeFileFinalized:
			r.Decode(&final)
		}
	}
	if starts != 2 || resumed != 1 {
		t.Fatalf("log shows %d starts and %d resumed files, want 2 and 1", starts, resumed)
	}
	sum := sha256.Sum256(data)
	if final.Hashes["sha256"] != hex.EncodeToString(sum[:]) || final.Size != int64(len(data)) || !final.FromDisk {
		t.Fatalf("final record after restart: %+v", final)
	}
	rep, err := hashlog.VerifyCase(context.Background(), caseDir)
	if err != nil || !rep.OK() {
		t.Fatalf("verify after restart: %v\n%s", err, rep)
	}
	// Intact, but the bytes before the kill were hashed from disk, not as
	// they arrived: an anomaly with its own line.
	if !strings.Contains(rep.String(), "vm-flat.vmdk: hashed from the file on disk") {
		t.Errorf("verify does not name the file finalized from disk:\n%s", rep)
	}
}

// TestWriteAfterFinalizationAcrossRestart: a file the sink finalized when
// it stopped, written to again through the next sink process, is never
// verified again: verify fails the case and says why.
func TestWriteAfterFinalizationAcrossRestart(t *testing.T) {
	t.Parallel()
	caseDir := t.TempDir()
	port := freePort(t)
	first := startHelperSink(t, caseDir, port)
	c := dialRPC(t, fmt.Sprintf("127.0.0.1:%d", port))
	_, root := c.mount("/esxsink")
	_, fh := c.create(root, "evidence.log", createGuarded)
	if st, _, _, _, err := c.write(fh, 0, []byte("as collected\n"), fileSync); err != nil || st != nfs3OK {
		t.Fatal(st, err)
	}
	first.Process.Signal(syscall.SIGINT) // finalizes every open file
	if err := first.Wait(); err != nil {
		t.Fatalf("sink did not stop cleanly: %v", err)
	}
	if rep, err := hashlog.VerifyCase(context.Background(), caseDir); err != nil || rep.Verdict() != custody.Complete {
		t.Fatalf("before the late write: %v\n%s", err, rep)
	}

	second := startHelperSink(t, caseDir, port)
	c2 := dialRPC(t, fmt.Sprintf("127.0.0.1:%d", port))
	if st, _, _, _, err := c2.write(fh, 13, []byte("added later\n"), fileSync); err != nil || st != nfs3OK {
		t.Fatal(st, err)
	}
	second.Process.Signal(syscall.SIGINT)
	if err := second.Wait(); err != nil {
		t.Fatalf("sink did not stop cleanly: %v", err)
	}
	rep, err := hashlog.VerifyCase(context.Background(), caseDir)
	if err != nil || rep.Verdict() == custody.Complete || rep.Verdict().ExitCode() == 0 ||
		!strings.Contains(rep.String(), "NOT VERIFIED  evidence.log") || !strings.Contains(rep.String(), "after it was finalized") {
		t.Fatalf("a write after finalization across a restart must not pass: %v\n%s", err, rep)
	}
}

// TestHandlesAreStableAndScoped: a new sink process on the same case
// resolves handles it never issued (no STALE after a restart); a handle of
// another case, or a made-up one, is STALE.
func TestHandlesAreStableAndScoped(t *testing.T) {
	t.Parallel()
	caseDir := t.TempDir()
	a := startTestSink(t, caseDir, &memLog{}, nil)
	c := dialRPC(t, a.NFSAddr().String())
	_, root := c.mount("/esxsink")
	c.status(nfsProcMkdir, append(dirop(root, "vm").Bytes(), make([]byte, 24)...))
	_, dir := c.lookup(root, "vm")
	_, fh := c.create(dir, "d.bin", createGuarded)
	c.write(fh, 0, []byte("data"), fileSync)
	a.Close("test")

	b := startTestSink(t, caseDir, &memLog{}, nil)
	c2 := dialRPC(t, b.NFSAddr().String())
	if st, size := c2.getattrSize(fh); st != nfs3OK || size != 4 {
		t.Fatalf("old handle on a new sink: status %d size %d", st, size)
	}
	if _, fh2 := c2.lookup(dir, "d.bin"); !bytes.Equal(fh, fh2) {
		t.Fatal("LOOKUP returns a different handle after the restart")
	}
	other := newTestSink(t, nil)
	if st, _ := dialRPC(t, other.NFSAddr().String()).getattrSize(fh); st != nfs3ErrStale {
		t.Fatalf("handle of another case: status %d, want STALE", st)
	}
	bogus := append([]byte(nil), fh...)
	bogus[len(bogus)-1] ^= 0xff
	if st, _ := c2.getattrSize(bogus); st != nfs3ErrStale {
		t.Fatalf("made-up handle: status %d, want STALE", st)
	}
}
