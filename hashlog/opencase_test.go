package hashlog

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/esxsink/esxsink/custody"
)

// TestOpenCaseLifecycle: a new case must be named and then says whose it
// is; reopening it is a note and a session of its own; a case opened
// under another id, or unnamed, is refused before anything is written.
func TestOpenCaseLifecycle(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "case")
	session := custody.Session{Examiner: "A. Examiner", Command: []string{"esxsink", "collect"}, Tool: "esxsink 1.0", Workstation: "ws1",
		CaseDetails: custody.CaseDetails{EvidenceNumber: "EV-1"}}
	open := func(id, examiner string) (*Log, error) {
		return OpenCase(dir, CaseOpening{CaseID: id, Examiner: examiner, Session: session, Opened: custody.CaseOpened{ToolVersion: "esxsink 1.0", OS: "linux/amd64"}})
	}
	if _, err := open("", "A. Examiner"); !errors.Is(err, ErrNewCaseUnnamed) {
		t.Fatalf("a new case without an id: %v", err)
	}
	if _, err := os.Stat(LogPath(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused case left a log: %v", err)
	}
	l, err := open("C-1", "A. Examiner")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, err = open("", "B. Second")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	var mismatch *CaseMismatchError
	if _, err := open("C-2", "A. Examiner"); !errors.As(err, &mismatch) || mismatch.Have != "C-1" || mismatch.Ask != "C-2" {
		t.Fatalf("reopened under another id: %v", err)
	}
	recs, findings, err := ReadLog(LogPath(dir))
	if err != nil || len(findings) != 0 {
		t.Fatal(err, findings)
	}
	var types []string
	for _, r := range recs {
		types = append(types, r.Type)
	}
	want := []string{custody.TypeCaseOpened, custody.TypeSessionOpened, custody.TypeNote, custody.TypeSessionOpened}
	if len(types) != len(want) {
		t.Fatalf("records %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("records %v, want %v", types, want)
		}
	}
	var opened custody.CaseOpened
	var first, second custody.Session
	if err := errors.Join(recs[0].Decode(&opened), recs[1].Decode(&first), recs[3].Decode(&second)); err != nil {
		t.Fatal(err)
	}
	if opened.CaseID != "C-1" || opened.Examiner != "A. Examiner" || opened.EvidenceNumber != "EV-1" || opened.ToolVersion != "esxsink 1.0" {
		t.Errorf("case.opened %+v", opened)
	}
	if first.Reopened || !second.Reopened {
		t.Errorf("sessions: first reopened %v, second %v", first.Reopened, second.Reopened)
	}
}
