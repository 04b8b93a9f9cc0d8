package hashlog

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/digest"
)

func TestVerifyIntactCase(t *testing.T) {
	t.Parallel()
	files := standardFiles()
	dir := makeCase(t, files)
	rep := verify(t, dir)
	if !rep.OK() || len(rep.Findings) != 0 {
		t.Fatalf("intact case:\n%s", rep)
	}
	if len(rep.Files) != len(files) {
		t.Fatalf("%d files in table, want %d", len(rep.Files), len(files))
	}
	for i, f := range rep.Files {
		if f.Path != files[i].path || f.Verdict != custody.RestIntact || f.Size != int64(len(files[i].data)) {
			t.Fatalf("row %d = %+v, want %s verified", i, f, files[i].path)
		}
	}
	lines := readLines(t, dir)
	if rep.HeadSeq != int64(len(lines)) || rep.HeadHash != lineHash(lines[len(lines)-1]) {
		t.Fatalf("head %d %s does not match the last line", rep.HeadSeq, rep.HeadHash)
	}
	s := rep.String()
	for _, want := range []string{"RESULT: PASS", rep.HeadHash, "sub dir/disk one-flat.vmdk", "AT REST", "intact"} {
		if !strings.Contains(s, want) {
			t.Fatalf("report text lacks %q:\n%s", want, s)
		}
	}
}

// Lines 3 and 4 are file.created and file.finalized of a.txt (makeCase).

func TestVerifyNamesEditedLine(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, standardFiles())
	lines := readLines(t, dir)
	lines[2] = bytes.Replace(lines[2], []byte(`"fileid":100`), []byte(`"fileid":101`), 1)
	writeLines(t, dir, lines)
	rep := verify(t, dir)
	requireFailure(t, rep, 3, "", "this line was altered after line 4")
	if rep.Failures() != 1 {
		t.Fatalf("one edit, %d failures:\n%s", rep.Failures(), rep)
	}
}

func TestVerifyNamesLineWithEditedPrev(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, standardFiles())
	lines := readLines(t, dir)
	// Change one digit of line 5's prev: line 5 then links to nothing, and
	// line 6 no longer links to line 5.
	i := bytes.Index(lines[4], []byte(`"prev":"`)) + len(`"prev":"`)
	if lines[4][i] == 'a' {
		lines[4][i] = 'b'
	} else {
		lines[4][i] = 'a'
	}
	writeLines(t, dir, lines)
	rep := verify(t, dir)
	requireFailure(t, rep, 5, "", "this line was altered", "line 6 no longer links")
	if rep.Failures() != 1 {
		t.Fatalf("one edit, %d failures:\n%s", rep.Failures(), rep)
	}
}

func TestVerifyNamesDeletedLine(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, standardFiles())
	lines := readLines(t, dir)
	writeLines(t, dir, append(lines[:2:2], lines[3:]...))
	rep := verify(t, dir)
	requireFailure(t, rep, 3, "", "record seq 3 is missing")
}

func TestVerifyNamesReorderedLines(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, standardFiles())
	lines := readLines(t, dir)
	lines[2], lines[3] = lines[3], lines[2]
	writeLines(t, dir, lines)
	rep := verify(t, dir)
	requireFailure(t, rep, 3, "", "reordered")
}

func TestVerifyNamesInsertedLine(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, standardFiles())
	lines := readLines(t, dir)
	// A forger who knows the format chains the new line correctly to
	// line 2; the line after it then betrays the insertion.
	forged, err := encodeLine(wireRecord{Seq: 3, Time: "2026-01-01T00:00:00.000000000Z", Type: custody.TypeNote, Prev: lineHash(lines[1]), Data: []byte(`{"text":"nothing happened"}`)})
	if err != nil {
		t.Fatal(err)
	}
	lines = append(lines[:2:2], append([][]byte{forged}, lines[2:]...)...)
	writeLines(t, dir, lines)
	rep := verify(t, dir)
	requireFailure(t, rep, 4, "", "line 3 was inserted")
}

func TestVerifyNamesHandEditedSpacing(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, standardFiles())
	lines := readLines(t, dir)
	last := len(lines) - 1
	// Even the last line is caught when the edit is not canonical.
	lines[last] = bytes.Replace(lines[last], []byte(`"reason":"test done"`), []byte(`"reason": "test done"`), 1)
	writeLines(t, dir, lines)
	rep := verify(t, dir)
	requireFailure(t, rep, last+1, "", "canonical")
}

func TestVerifyLastLineEditNeedsTheNotedHead(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, standardFiles())
	noted := verify(t, dir).HeadHash
	lines := readLines(t, dir)
	last := len(lines) - 1
	lines[last] = bytes.Replace(lines[last], []byte(`"test done"`), []byte(`"test gone"`), 1)
	writeLines(t, dir, lines)
	rep := verify(t, dir)
	// Documented limit: the chain alone cannot see this edit ...
	if !rep.OK() {
		t.Fatalf("unexpected failure:\n%s", rep)
	}
	// ... but the head written in the examiner's notes does.
	if rep.HeadHash == noted {
		t.Fatal("head hash unchanged after editing the last line")
	}
}

func TestVerifyNamesChangedPiece(t *testing.T) {
	t.Parallel()
	files := standardFiles()
	dir := makeCase(t, files)
	disk := filepath.Join(EvidenceDir(dir), "sub dir", "disk one-flat.vmdk")
	b, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	b[9000] ^= 0x01 // piece 2 covers bytes 8192-12287
	if err := os.WriteFile(disk, b, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, dir)
	requireFailure(t, rep, 8, "sub dir/disk one-flat.vmdk", "content changed", "md5", "sha256")
	var piece *custody.PieceRange
	for _, f := range rep.Findings {
		if f.Piece != nil {
			if piece != nil {
				t.Fatalf("more than one piece reported:\n%s", rep)
			}
			piece = f.Piece
		}
	}
	if piece == nil || *piece != (custody.PieceRange{First: 2, Last: 2, Start: 8192, End: 12287}) {
		t.Fatalf("piece = %+v, want piece 2 bytes 8192-12287:\n%s", piece, rep)
	}
	if !strings.Contains(rep.String(), "piece 2 (bytes 8192-12287)") {
		t.Fatalf("report text does not name the piece:\n%s", rep)
	}
	for _, f := range rep.Files {
		want := custody.RestIntact
		if f.Path == "sub dir/disk one-flat.vmdk" {
			want = custody.RestMismatch
		}
		if f.Verdict != want {
			t.Fatalf("%s: %s, want %s", f.Path, f.Verdict, want)
		}
	}
}

func TestVerifyReportsMissingUnloggedAndUnfinalizedFiles(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, standardFiles())
	if err := os.Remove(filepath.Join(EvidenceDir(dir), "a.txt")); err != nil {
		t.Fatal(err)
	}
	writeEvidence(t, dir, testFile{"sub dir/extra.bin", []byte("planted")})
	writeEvidence(t, dir, testFile{".lck-0123456789abcdef", []byte("esxi lock")})
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	writeEvidence(t, dir, testFile{"vm1/vm1-2.vmdk", []byte("half")})
	created := mustAppend(t, l, custody.TypeFileCreated, custody.FileCreated{Path: "vm1/vm1-2.vmdk", FileID: 7})
	l.Close()

	rep := verify(t, dir)
	requireFailure(t, rep, 4, "a.txt", "missing")
	requireFailure(t, rep, 0, "sub dir/extra.bin", "no file.finalized record")
	f := requireFailure(t, rep, 0, "vm1/vm1-2.vmdk", "never finalized")
	if !strings.Contains(f.What, "line "+strconv.Itoa(created.Line)) {
		t.Fatalf("unfinalized file finding does not name its file.created line %d: %s", created.Line, f.What)
	}
	for _, f := range rep.Findings {
		if strings.Contains(f.File, ".lck-") {
			t.Fatalf("ESXi lock file reported: %v", f)
		}
	}
	if rep.Failures() != 3 {
		t.Fatalf("%d failures, want 3:\n%s", rep.Failures(), rep)
	}
	verdicts := map[string]custody.AtRest{}
	for _, r := range rep.Files {
		verdicts[r.Path] = r.Verdict
	}
	if verdicts["a.txt"] != custody.RestMissing || verdicts["sub dir/extra.bin"] != custody.RestUnlogged || verdicts["vm1/vm1.vmx"] != custody.RestIntact {
		t.Fatalf("verdicts %v", verdicts)
	}
}

func TestVerifyReportsSizeMismatch(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, standardFiles())
	f, err := os.OpenFile(filepath.Join(EvidenceDir(dir), "vm1", "vm1.vmx"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("x"))
	f.Close()
	rep := verify(t, dir)
	requireFailure(t, rep, 10, "vm1/vm1.vmx", "size at rest is 21 bytes, the log recorded 20")
}

func TestVerifyUsesLastFinalizedRecord(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, standardFiles())
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The file grew after its first finalization (e.g. a resumed copy).
	full := writeEvidence(t, dir, testFile{"a.txt", []byte("hello world, resumed\n")})
	r, err := digest.File(context.Background(), full, []string{"md5", "sha256"}, testPieceSize)
	if err != nil {
		t.Fatal(err)
	}
	rec := mustAppend(t, l, custody.TypeFileFinalized, NewFileFinalized("a.txt", r, custody.FinalizeIdle, []string{"rewrite at offset 0"}))
	l.Close()
	rep := verify(t, dir)
	// At rest the file is what the last record says; but it changed
	// after it was first finalized, which no verdict may pass over.
	if !rep.Intact() || rep.Verdict() != custody.IntegrityFailure || !strings.Contains(rep.String(), "a.txt changed after it was finalized") {
		t.Fatalf("last record should win at rest, and the write after finalization fail the case:\n%s", rep)
	}
	var again, anomaly bool
	for _, f := range rep.Findings {
		again = again || (f.Line == rec.Line && strings.Contains(f.What, "finalized again"))
		anomaly = anomaly || (f.File == "a.txt" && strings.Contains(f.What, "rewrite at offset 0"))
	}
	if !again || !anomaly {
		t.Fatalf("want notices for the re-finalization and the anomaly:\n%s", rep)
	}
}

func TestVerifyRefusesPathsOutsideEvidence(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, standardFiles()[:1])
	if err := os.WriteFile(filepath.Join(dir, "outside.txt"), []byte("not evidence"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Bypass Append's own check, as a forger would.
	l.mu.Lock()
	_, err = l.appendLocked(custody.TypeFileFinalized, []byte(`{"path":"../outside.txt","size":12,"hashes":{"md5":"00000000000000000000000000000000"},"reason":"api"}`), nil)
	l.mu.Unlock()
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	rep := verify(t, dir)
	requireFailure(t, rep, 0, "", "unusable path")
	for _, f := range rep.Files {
		if strings.Contains(f.Path, "outside") {
			t.Fatalf("verification touched %s", f.Path)
		}
	}
}

func TestVerifyNotACase(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	file := filepath.Join(empty, "file")
	os.WriteFile(file, nil, 0o644)
	for _, dir := range []string{filepath.Join(empty, "nope"), empty, file} {
		if _, err := VerifyCase(context.Background(), dir); !errors.Is(err, ErrNotCase) {
			t.Errorf("VerifyCase(%s) = %v, want ErrNotCase", dir, err)
		}
		if err := Export(dir, FormatHashdeep, &bytes.Buffer{}); !errors.Is(err, ErrNotCase) {
			t.Errorf("Export(%s) = %v, want ErrNotCase", dir, err)
		}
	}
}

func TestVerifyStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, standardFiles())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := VerifyCase(ctx, dir)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if rep == nil || rep.OK() {
		t.Fatalf("a cancelled verification must not pass: %v", rep)
	}
	for _, f := range rep.Files {
		if f.Verdict != custody.RestNotChecked {
			t.Fatalf("%s: %s after cancellation", f.Path, f.Verdict)
		}
	}
}
