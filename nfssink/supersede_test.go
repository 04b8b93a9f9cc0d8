package nfssink

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/hashlog"
)

// A copy interrupted in one sink process and taken again after a restart:
// the sink moves the partial attempt to superseded/<run>/, the new copy
// arrives under the host's name, and esxsink verify finds
// both, each intact at its path, and the case complete.
func TestSupersedeKeepsTheNameAcrossARestart(t *testing.T) {
	t.Parallel()
	caseDir := t.TempDir()
	log, err := hashlog.Open(caseDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() }) // after the sinks' own cleanups
	const rel = "ds1/vm/disk-flat.vmdk"
	data := mustRead(t, randomFile(t, 3<<20+512))
	receive := func(s *testSink, b []byte) {
		t.Helper()
		if _, err := s.Receive(context.Background(), rel, "test", bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}

	first := startTestSink(t, caseDir, log, nil)
	if err := first.MakeDir(filepath.ToSlash(filepath.Dir(rel))); err != nil {
		t.Fatal(err)
	}
	receive(first, data[:1<<20])
	first.Close("interrupted")

	second := startTestSink(t, caseDir, log, nil)
	moved, err := second.Supersede(rel, "r2", "test")
	if err != nil || moved == nil {
		t.Fatalf("supersede: %+v, %v", moved, err)
	}
	if want := "superseded/r2/" + rel; moved.To != want || moved.Size != 1<<20 {
		t.Fatalf("moved to %s (%d bytes), want %s (%d)", moved.To, moved.Size, want, 1<<20)
	}
	if again, err := second.Supersede(rel, "r2", "test"); again != nil || err != nil {
		t.Fatalf("superseding a free path: %+v, %v", again, err)
	}
	receive(second, data)
	fin, err := second.Finalize(context.Background(), rel, "api", int64(len(data)), true)
	if err != nil || fin.Size != int64(len(data)) {
		t.Fatalf("finalize the new copy: %+v, %v", fin, err)
	}
	// A second retry in the same run goes to a folder of its own.
	moved2, err := second.Supersede(rel, "r2", "test")
	if err != nil || moved2 == nil || moved2.To != "superseded/r2-2/"+rel {
		t.Fatalf("second supersede: %+v, %v", moved2, err)
	}
	receive(second, data)
	if _, err := second.Finalize(context.Background(), rel, "api", int64(len(data)), true); err != nil {
		t.Fatal(err)
	}
	second.Close("done")

	rep, err := hashlog.VerifyCase(context.Background(), caseDir)
	if err != nil {
		t.Fatal(err)
	}
	checked := map[string]custody.AtRest{}
	for _, f := range rep.Files {
		checked[f.Path] = f.Verdict
	}
	for _, p := range []string{rel, moved.To, moved2.To} {
		if checked[p] != custody.RestIntact {
			t.Errorf("%s at rest: %q, want intact (all: %v)", p, checked[p], checked)
		}
	}
	if len(checked) != 3 {
		t.Errorf("verify checked %v, want exactly the copy and its two superseded attempts", checked)
	}
	states := map[string]custody.State{}
	for _, f := range rep.Assessment.Files {
		states[f.Path] = f.Verdict
	}
	if states[moved.To] != custody.Superseded || states[moved2.To] != custody.Superseded || !states[rel].Good() {
		t.Errorf("verdicts %v", states)
	}
	if v := rep.Verdict(); v != custody.Complete {
		t.Errorf("case verdict %v, problems %+v", v, rep.Assessment.Problems)
	}
	for _, f := range rep.Findings {
		if strings.Contains(f.What, "superseded") || f.Severity == custody.Failure {
			t.Errorf("finding: %+v", f)
		}
	}
}
