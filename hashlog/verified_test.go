package hashlog

import (
	"path/filepath"
	"testing"

	"github.com/esxsink/esxsink/custody"
)

// TestRecordVerification: the result of a verification becomes a
// case.verified record naming the head it read (the one before itself)
// and the failing file; the record is an ordinary chain member, so the
// next verification still passes once the evidence is restored.
func TestRecordVerification(t *testing.T) {
	t.Parallel()
	files := standardFiles()
	dir := makeCase(t, files)
	target := files[2] // multi-piece
	full := filepath.Join(EvidenceDir(dir), filepath.FromSlash(target.path))
	flipByte(t, full, 2*testPieceSize+5)

	rep := verify(t, dir)
	if rep.OK() {
		t.Fatal("verification of a changed file passed")
	}
	rec, err := RecordVerification(dir, rep, "esxsink test")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Type != custody.TypeCaseVerified || rec.Seq != rep.HeadSeq+1 || rec.Prev != rep.HeadHash {
		t.Fatalf("record seq %d prev %s, want seq %d after head %s", rec.Seq, rec.Prev, rep.HeadSeq+1, rep.HeadHash)
	}
	var got custody.CaseVerified
	if err := rec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.OK || got.Head != rep.HeadHash || got.HeadSeq != rep.HeadSeq || got.Files != len(files) || got.Verified != len(files)-1 {
		t.Fatalf("case.verified = %+v", got)
	}
	if len(got.FailedFiles) != 1 || got.FailedFiles[0].Path != target.path || got.FailedFiles[0].Verdict != custody.RestMismatch {
		t.Fatalf("failed files = %+v, want %s MISMATCH", got.FailedFiles, target.path)
	}
	piece := false
	for _, f := range got.Failures {
		if f.File == target.path && f.Piece != nil && f.Piece.First == 2 {
			piece = true
		}
	}
	if !piece {
		t.Fatalf("failures do not name piece 2 of %s: %+v", target.path, got.Failures)
	}

	flipByte(t, full, 2*testPieceSize+5)
	rep2 := verify(t, dir)
	if !rep2.OK() {
		t.Fatalf("restored case with a case.verified record does not verify:\n%s", rep2)
	}
	if rep2.HeadSeq != rec.Seq || rep2.HeadHash != rec.Hash {
		t.Fatalf("head after the record: seq %d %s, want %d %s", rep2.HeadSeq, rep2.HeadHash, rec.Seq, rec.Hash)
	}
	if _, err := RecordVerification(t.TempDir(), rep2, "x"); err == nil {
		t.Fatal("recorded a verification into a folder that is not a case")
	}
}
