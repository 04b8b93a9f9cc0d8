package hashlog

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/digest"
)

// testPieceSize is small so that a few kilobytes span several pieces.
const testPieceSize = 4096

type testFile struct {
	path string
	data []byte
}

func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// standardFiles covers a subfolder, spaces, a comma, an empty file and a
// multi-piece file whose last piece is short.
func standardFiles() []testFile {
	return []testFile{
		{"a.txt", []byte("hello world\n")},
		{"empty.bin", nil},
		{"sub dir/disk one-flat.vmdk", randomBytes(5*testPieceSize+100, 7)},
		{"vm1/vm1.vmx", []byte("displayName = \"vm1\"\n")},
		{"we,ird name.txt", []byte("comma\n")},
	}
}

// writeEvidence writes f under the case's evidence folder.
func writeEvidence(t *testing.T, caseDir string, f testFile) string {
	t.Helper()
	full := filepath.Join(EvidenceDir(caseDir), filepath.FromSlash(f.path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, f.data, 0o644); err != nil {
		t.Fatal(err)
	}
	return full
}

// makeCase builds a case the way the sink would: case.opened,
// sink.started, then file.created and file.finalized per file, then
// sink.stopped. Line 2k+3 is file k's file.created, 2k+4 its
// file.finalized.
func makeCase(t *testing.T, files []testFile, algs ...string) string {
	t.Helper()
	if len(algs) == 0 {
		algs = []string{"md5", "sha256"}
	}
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, custody.TypeCaseOpened, custody.CaseOpened{CaseID: "2026-001", Examiner: "E. Xaminer", ToolVersion: "test", SinkHost: "ws1", OS: "linux/amd64"})
	mustAppend(t, l, custody.TypeSinkStarted, custody.SinkStarted{Config: map[string]any{"hash": strings.Join(algs, ",")}, WriteVerifier: "00112233aabbccdd", Listen: []string{"127.0.0.1:2049"}})
	for i, f := range files {
		full := writeEvidence(t, dir, f)
		mustAppend(t, l, custody.TypeFileCreated, custody.FileCreated{Path: f.path, FileID: uint64(100 + i)})
		r, err := digest.File(context.Background(), full, algs, testPieceSize)
		if err != nil {
			t.Fatal(err)
		}
		mustAppend(t, l, custody.TypeFileFinalized, NewFileFinalized(f.path, r, custody.FinalizeAPI, nil))
	}
	mustAppend(t, l, custody.TypeSinkStopped, custody.SinkStopped{Reason: "test done"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustAppend(t *testing.T, l *Log, typ string, data any) custody.Record {
	t.Helper()
	r, err := l.Append(typ, data)
	if err != nil {
		t.Fatalf("Append %s: %v", typ, err)
	}
	return r
}

// readLines returns the log's lines, each with its newline.
func readLines(t *testing.T, caseDir string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(LogPath(caseDir))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(b, []byte("\n"))[:bytes.Count(b, []byte("\n"))]
}

func writeLines(t *testing.T, caseDir string, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(LogPath(caseDir), bytes.Join(lines, nil), 0o644); err != nil {
		t.Fatal(err)
	}
}

func verify(t *testing.T, caseDir string) *Verification {
	t.Helper()
	rep, err := VerifyCase(context.Background(), caseDir)
	if err != nil {
		t.Fatalf("VerifyCase: %v", err)
	}
	return rep
}

// findFailure returns the first failure matching line (0: any), file
// ("": any) and containing every word.
func findFailure(rep *Verification, line int, file string, words ...string) (custody.Finding, bool) {
	for _, f := range rep.Findings {
		if f.Severity != custody.Failure || (line != 0 && f.Line != line) || (file != "" && f.File != file) {
			continue
		}
		ok := true
		for _, w := range words {
			if !strings.Contains(f.What, w) {
				ok = false
			}
		}
		if ok {
			return f, true
		}
	}
	return custody.Finding{}, false
}

func requireFailure(t *testing.T, rep *Verification, line int, file string, words ...string) custody.Finding {
	t.Helper()
	if rep.OK() {
		t.Fatalf("report is OK, want a failure (line %d, file %q, %q):\n%s", line, file, words, rep)
	}
	f, ok := findFailure(rep, line, file, words...)
	if !ok {
		t.Fatalf("no failure at line %d, file %q with %q:\n%s", line, file, words, rep)
	}
	return f
}
