package hashlog

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
)

// TestKeepThenVerify: a kept file is written once, recorded with the
// hash of what was written and of what is at rest, and verify re-hashes
// it: intact it passes; changed, it is not verified; a file in the
// vCenter folder that no record covers is a failure.
func TestKeepThenVerify(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, custody.TypeCaseOpened, custody.CaseOpened{CaseID: "K-1", Examiner: "E", ToolVersion: "test"})
	data := []byte("{\"events\": []}\n")
	rec, err := Keep(l, dir, data, custody.Kept{Path: "vcenter/run1/events.json", Source: "vcsa:443", Name: "events", What: "EventManager"})
	if err != nil {
		t.Fatal(err)
	}
	var k custody.Kept
	if err := rec.Decode(&k); err != nil || k.Size != int64(len(data)) || k.SHA256 != k.AtRest || k.SHA256 != sha256Hex(data) {
		t.Fatalf("record %+v (%v)", k, err)
	}
	if _, err := Keep(l, dir, []byte("other"), custody.Kept{Path: "vcenter/run1/events.json"}); err == nil || !strings.Contains(err.Error(), "never overwritten") {
		t.Errorf("a second keep of the same path: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "vcenter", "run1", "events.json")); string(b) != string(data) {
		t.Errorf("the kept file holds %q", b)
	}
	for _, bad := range []string{"evidence/x.json", "vcenter", "../vcenter/x", "vcenter/../x"} {
		if _, err := Keep(l, dir, data, custody.Kept{Path: bad}); err == nil {
			t.Errorf("kept %q outside the vCenter folder", bad)
		}
	}
	l.Close()

	rep, err := VerifyCase(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("an intact kept file does not pass:\n%s", rep)
	}
	if i := slices.IndexFunc(rep.Assessment.Files, func(f custody.FileState) bool { return f.Path == "vcenter/run1/events.json" }); i < 0 || rep.Assessment.Files[i].Verdict != custody.Verified {
		t.Errorf("assessment files %+v", rep.Assessment.Files)
	}

	p := filepath.Join(dir, "vcenter", "run1", "events.json")
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, []byte("{\"events\": [1]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vcenter", "run1", "planted.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = VerifyCase(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict() != custody.IntegrityFailure {
		t.Fatalf("a changed kept file: verdict %v\n%s", rep.Verdict(), rep)
	}
	text := rep.String()
	for _, want := range []string{"vcenter/run1/events.json", "content changed", "vcenter/run1/planted.json", "no evidence.kept record covers this file"} {
		if !strings.Contains(text, want) {
			t.Errorf("the verification does not say %q:\n%s", want, text)
		}
	}
	i := slices.IndexFunc(rep.Assessment.Files, func(f custody.FileState) bool { return f.Path == "vcenter/run1/events.json" })
	if i < 0 || rep.Assessment.Files[i].Verdict != custody.NotVerified {
		t.Errorf("the changed file's verdict: %+v", rep.Assessment.Files)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
