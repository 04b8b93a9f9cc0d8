package nfssink

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
)

// The same bytes written by a real NFS client (nfs-cp) and received as a
// stream give the same finalized record: size, md5, sha256, pieces, at rest,
// all equal to hashes computed here independently.
func TestReceiveMatchesNFS(t *testing.T) {
	t.Parallel()
	cp := nfsCp(t)
	ts := newTestSink(t, nil)
	src := randomFile(t, 5<<20+123)
	data := mustRead(t, src)
	run(t, cp, src, ts.url("nfs.bin"))
	if err := os.Mkdir(filepath.Join(ts.evidence, "vm"), 0o750); err != nil {
		t.Fatal(err)
	}
	from := "sftp root@esx01:22 /vmfs/volumes/ds/vm/disk-flat.vmdk"
	n, err := ts.Receive(context.Background(), "vm/sftp.bin", from, bytes.NewReader(data))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("receive: %d bytes, %v", n, err)
	}
	nfs, err := ts.Finalize(context.Background(), "nfs.bin", "api", int64(len(data)), true)
	if err != nil {
		t.Fatal(err)
	}
	str, err := ts.Finalize(context.Background(), "vm/sftp.bin", "api", int64(len(data)), true)
	if err != nil {
		t.Fatal(err)
	}
	m, s := md5.Sum(data), sha256.Sum256(data)
	want := map[string]string{"md5": hex.EncodeToString(m[:]), "sha256": hex.EncodeToString(s[:])}
	if !maps.Equal(str.Hashes, want) || !atRestMatches(str, want) || str.Size != int64(len(data)) || len(str.Anomalies) != 0 || str.FromDisk {
		t.Fatalf("received file: %+v, want %v", str, want)
	}
	if !maps.Equal(nfs.Hashes, str.Hashes) || !maps.Equal(nfs.AtRest, str.AtRest) || nfs.Size != str.Size {
		t.Fatalf("nfs %+v\nstream %+v", nfs, str)
	}
	nb, _ := json.Marshal(nfs.Pieces)
	sb, _ := json.Marshal(str.Pieces)
	if !bytes.Equal(nb, sb) {
		t.Errorf("piecewise hashes differ:\nnfs    %s\nstream %s", nb, sb)
	}
	var created bool
	for _, r := range ts.log.of(custody.TypeFileCreated) {
		var fc custody.FileCreated
		json.Unmarshal(r.Data, &fc)
		created = created || (fc.Path == "vm/sftp.bin" && fc.Client == from && fc.FileID != 0)
	}
	if !created {
		t.Errorf("no file.created record for the stream naming its sender: %s", ts.log.of(custody.TypeFileCreated))
	}
	if fi, err := os.Stat(filepath.Join(ts.evidence, "vm", "sftp.bin")); err != nil || fi.Mode().Perm() != evidenceFileMode {
		t.Errorf("evidence file mode: %v %v", fi, err)
	}
}

// Write-once: an existing file, a bad name and a missing folder are
// refused with an error saying what to do, and nothing on disk changes.
func TestReceiveRefusals(t *testing.T) {
	t.Parallel()
	ts := newTestSink(t, func(c *Config) { c.Portmap = "off" })
	ctx := context.Background()
	if _, err := ts.Receive(ctx, "a.bin", "t", strings.NewReader("first")); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Finalize(context.Background(), "a.bin", "api", -1, true); err != nil {
		t.Fatal(err)
	}
	_, err := ts.Receive(ctx, "a.bin", "t", strings.NewReader("second, longer"))
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("receive over an existing file: %v", err)
	}
	if b := mustRead(t, filepath.Join(ts.evidence, "a.bin")); string(b) != "first" {
		t.Fatalf("existing evidence changed to %q", b)
	}
	for _, rel := range []string{"../escape.bin", "/abs.bin", "bad\x01name.bin", "x/./y.bin", ".lck-0001"} {
		if _, err := ts.Receive(ctx, rel, "t", strings.NewReader("x")); err == nil {
			t.Errorf("receive %q succeeded", rel)
		}
	}
	if _, err := os.Stat(filepath.Join(ts.caseDir, "escape.bin")); err == nil {
		t.Error("a file was created outside the evidence folder")
	}
	_, err = ts.Receive(ctx, "nodir/b.bin", "t", strings.NewReader("x"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("receive into a missing folder: %v", err)
	}
	if got := len(ts.log.of(custody.TypePolicyRefused)); got < 5 {
		t.Errorf("%d policy.refused records, want one per refusal (5+)", got)
	}
}

// A stream that breaks leaves what arrived, and Finalize records exactly
// that; a full disk gives a no_space record and a clear error.
func TestReceiveBrokenStreamAndNoSpace(t *testing.T) {
	t.Parallel()
	ts := newTestSink(t, nil)
	ctx := context.Background()
	lost := errors.New("connection lost")
	broken := io.MultiReader(bytes.NewReader(make([]byte, 3<<20)), errReader{lost})
	n, err := ts.Receive(ctx, "broken.bin", "t", broken)
	if !errors.Is(err, lost) || n != 3<<20 {
		t.Fatalf("broken stream: %d, %v", n, err)
	}
	fin, err := ts.Finalize(context.Background(), "broken.bin", "stream failed", -1, true)
	if err != nil || fin.Size != 3<<20 || !atRestMatches(fin, fin.Hashes) {
		t.Fatalf("finalize after a broken stream: %+v %v", fin, err)
	}
	free, err := FreeSpace(ts.evidence)
	if err != nil {
		t.Fatal(err)
	}
	ts.space.reserve = free + 1<<30 // nothing fits any more
	_, err = ts.Receive(ctx, "full.bin", "t", bytes.NewReader(make([]byte, 1<<20)))
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("receive onto a full disk: %v", err)
	}
	if len(ts.log.of(custody.TypeNoSpace)) != 1 {
		t.Errorf("no_space records: %s", ts.log.of(custody.TypeNoSpace))
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// StartReceiver binds no port, yet files are received, finalized and the
// sink's start and stop are recorded.
func TestStartReceiverBindsNothing(t *testing.T) {
	t.Parallel()
	caseDir := t.TempDir()
	log := &memLog{}
	s, err := New(Config{EvidenceDir: filepath.Join(caseDir, "evidence"), StateDir: filepath.Join(caseDir, ".esxsink"),
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, IdleFinalize: -1, Log: log,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartReceiver(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.nfsLn != nil || s.portmap != nil || s.PortmapAddr() != nil {
		t.Fatal("StartReceiver bound a port")
	}
	if _, err := s.Receive(context.Background(), "x.bin", "t", strings.NewReader("evidence")); err != nil {
		t.Fatal(err)
	}
	fin, err := s.Finalize(context.Background(), "x.bin", "api", 8, true)
	if err != nil || fin.Size != 8 || len(fin.AtRest) == 0 {
		t.Fatalf("finalize: %+v %v", fin, err)
	}
	if err := s.Close("test done"); err != nil {
		t.Fatal(err)
	}
	started := log.of(custody.TypeSinkStarted)
	if len(started) != 1 || !strings.Contains(string(started[0].Data), "no NFS") || len(log.of(custody.TypeSinkStopped)) != 1 {
		t.Fatalf("start/stop records: %s %s", started, log.of(custody.TypeSinkStopped))
	}
}
