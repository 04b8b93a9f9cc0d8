package nfssink

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/digest"
	"github.com/esxsink/esxsink/internal/memlog"
	"github.com/esxsink/esxsink/internal/peer"
)

// memLog is the shared in-memory custody log (internal/memlog) under the
// name these tests use.
type memLog struct{ memlog.Log }

// memRec is the part of a record tests look at; it prints well with %s.
type memRec struct {
	Type string
	Data json.RawMessage
}

// of returns the records of type typ, oldest first.
func (l *memLog) of(typ string) []memRec {
	var out []memRec
	for _, r := range l.Records(typ) {
		out = append(out, memRec{r.Type, r.Data})
	}
	return out
}

type testSink struct {
	*Sink
	caseDir  string
	evidence string
	log      *memLog
	nfsPort  int
}

func newTestSink(t testing.TB, mod func(*Config)) *testSink {
	t.Helper()
	caseDir := t.TempDir()
	return startTestSink(t, caseDir, &memLog{}, mod)
}

func startTestSink(t testing.TB, caseDir string, log CustodyLog, mod func(*Config)) *testSink {
	t.Helper()
	cfg := Config{
		EvidenceDir:  filepath.Join(caseDir, "evidence"),
		StateDir:     filepath.Join(caseDir, ".esxsink"),
		Address:      "127.0.0.1",
		NFSPortAuto:  true,
		Portmap:      "off",
		Allow:        []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		IdleFinalize: -1,
		// The ESXi client's lock files, as serve and collect configure.
		ScratchPrefixes: []string{".lck-"},
		Log:             log,
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close("test done") })
	ml, _ := log.(*memLog)
	return &testSink{Sink: s, caseDir: caseDir, evidence: cfg.EvidenceDir, log: ml, nfsPort: s.NFSAddr().(*net.TCPAddr).Port}
}

// url is a libnfs URL for name in the export, bypassing the portmapper.
func (ts *testSink) url(name string) string {
	return fmt.Sprintf("nfs://127.0.0.1%s/%s?nfsport=%d&mountport=%d&version=3", ts.cfg.Export, name, ts.nfsPort, ts.nfsPort)
}

func randomFile(t testing.TB, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func nfsCp(t testing.TB) string { return peer.Require(t, "nfs-cp") }

var netipLoopback = netip.MustParseAddr("127.0.0.1")

func (ts *testSink) log0() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func digestString(s string) (string, error) {
	r, err := digest.Reader(context.Background(), strings.NewReader(s), []string{"sha256"}, 0)
	return r.Sums["sha256"], err
}

// atRestMatches checks a finalization's at-rest hash: the strongest hash
// (sha256), recomputed from disk, equal to want's.
func atRestMatches(res custody.FileFinalized, want map[string]string) bool {
	return len(res.AtRest) == 1 && res.AtRest["sha256"] != "" && res.AtRest["sha256"] == want["sha256"]
}
