package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/hashlog"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/report.golden.* from the current templates")

// goldenStart is the fixed case's first record time; each later record
// is a second after the one before.
var goldenStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newFixedCase is a case whose log lines are written here, with a fixed
// clock, in the custody log's canonical form: hashlog always stamps the
// current time, and a golden file needs the same head hash every run.
// Load walks the chain, so a line written wrongly here shows up as a
// broken chain in the golden output.
func newFixedCase(t *testing.T) *caseLog {
	t.Helper()
	dir := t.TempDir()
	f, err := os.OpenFile(hashlog.LogPath(dir), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	seq, prev := int64(0), hashlog.GenesisPrev
	app := func(typ string, data any) (custody.Record, error) {
		raw, err := json.Marshal(data)
		if err != nil {
			return custody.Record{}, err
		}
		at := goldenStart.Add(time.Duration(seq) * time.Second)
		seq++
		// The field order is the log's: seq, time, type, prev, data.
		line, err := json.Marshal(struct {
			Seq  int64           `json:"seq"`
			Time string          `json:"time"`
			Type string          `json:"type"`
			Prev string          `json:"prev"`
			Data json.RawMessage `json:"data"`
		}{seq, at.Format(hashlog.TimeFormat), typ, prev, raw})
		if err != nil {
			return custody.Record{}, err
		}
		line = append(line, '\n')
		if _, err := f.Write(line); err != nil {
			return custody.Record{}, err
		}
		sum := sha256.Sum256(line)
		prev = hex.EncodeToString(sum[:])
		return custody.Record{Seq: seq, Time: at, Type: typ, Hash: prev}, nil
	}
	return &caseLog{t: t, dir: dir, app: app}
}

// goldenReport is the hostile acquisition with every other section
// filled in: sessions, a snapshot left behind, a file not collected, the
// host's clock, a note and a failed verification.
func goldenReport(t *testing.T) *Report {
	t.Helper()
	c := acquisitionIn(newFixedCase(t))
	c.add(custody.TypeSessionOpened, custody.Session{Examiner: "R. Roe", Command: []string{"esxsink", "collect", "--vm", "web|01", "--password-file", "pw"},
		Tool: "esxsink 1.2", Workstation: "ws1", UTCOffset: "+09:00", Reopened: true,
		CaseDetails: custody.CaseDetails{EvidenceNumber: "EV-0042", Description: "web server\nand its logs", Notes: "seized under warrant 7"}})
	c.finalized("evil/<script>alert(1)</script>.vmx", 5, md5C, shaA)
	c.step(custody.TypeFileVerified, custody.Step{VM: `<img src=x onerror=alert(1)> | "q"`, VMID: 9, Source: "/vmfs/volumes/ds/evil/x.vmx",
		Dest: "evil/<script>alert(1)</script>.vmx", Size: 5, HostHashes: map[string]string{"md5": md5C}, SinkHashes: map[string]string{"md5": md5C}, AtRest: map[string]string{"md5": md5C}})
	c.add(custody.TypeHostClock, custody.HostClock{Host: host, RunID: run, When: "start", HostTime: "2026-01-02T03:04:01Z", WorkstationAt: "2026-01-02T03:04:05.5Z", OffsetSeconds: -4, RoundTripMS: 12})
	c.add(custody.TypeNotCollected, custody.Uncollected{Host: host, RunID: run, What: "unregistered VM", Name: "old `db`", Path: "/vmfs/volumes/ds/old/old.vmx", Size: 4096,
		Flag: "--unregistered", Why: "not registered on the host"})
	c.step(custody.TypeSnapshotCreated, custody.Step{VMID: 5, VM: "db", Snapshot: "esxsink-r1-vm5", SnapID: 8})
	c.step(custody.TypeCleanupFailed, custody.Step{Error: `remove our snapshot "esxsink-r1-vm5" (id 8): host said no`})
	c.add(custody.TypeNote, custody.Note{Text: "examiner's note | with a pipe"})
	c.add(custody.TypeCaseVerified, custody.CaseVerified{OK: false, Verdict: custody.IntegrityFailure.String(), HeadSeq: 30, Head: shaA, Files: 5, Verified: 4,
		FailedFiles: []custody.FileCheck{{Path: "manual/notes.txt", Verdict: custody.RestMismatch}},
		Failures:    []custody.Finding{{Severity: custody.Failure, File: "manual/notes.txt", Line: 17, What: "content changed: md5 logged x, at rest y"}},
		ToolVersion: "esxsink 1.2"})
	return loadFixed(c, "/cases/C-7")
}

// loadFixed loads a case written with newFixedCase and fixes what
// depends on where and when the test runs: it reads as if from caseDir.
func loadFixed(c *caseLog, caseDir string) *Report {
	c.t.Helper()
	r := c.load()
	if !r.Log.ChainOK {
		c.t.Fatalf("the fixed case's chain is broken: %+v", r.Log.Findings)
	}
	r.CaseDir, r.Log.Path = caseDir, caseDir+"/custody.jsonl"
	r.Generated, r.Generator = goldenStart.Add(time.Hour), "esxsink test"
	return r
}

// TestReportGolden renders the fixed cases (one host; a fleet) in both
// formats and compares them with testdata/report*.golden.*; go test -run
// TestReportGolden -update rewrites them, and the diff is what a change
// did to reports.
func TestReportGolden(t *testing.T) {
	t.Parallel()
	r, fleet := goldenReport(t), goldenFleetReport(t)
	for _, c := range []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"report.golden.md", func(b *bytes.Buffer) error { return r.WriteMarkdown(b) }},
		{"report.golden.html", func(b *bytes.Buffer) error { return r.WriteHTML(b) }},
		{"report.fleet.golden.md", func(b *bytes.Buffer) error { return fleet.WriteMarkdown(b) }},
		{"report.fleet.golden.html", func(b *bytes.Buffer) error { return fleet.WriteHTML(b) }},
	} {
		var b bytes.Buffer
		if err := c.write(&b); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", c.file)
		if *updateGolden {
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./report -run TestReportGolden -update writes it)", err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs from the rendered report; if the change is meant, run go test ./report -run TestReportGolden -update and review the diff\n%s", path, firstDiff(want, b.Bytes()))
		}
	}
}

// firstDiff shows the first line where got departs from want.
func firstDiff(want, got []byte) string {
	wl, gl := bytes.Split(want, []byte("\n")), bytes.Split(got, []byte("\n"))
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g []byte
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if !bytes.Equal(w, g) {
			return fmt.Sprintf("line %d:\nwant: %s\ngot:  %s", i+1, w, g)
		}
	}
	return ""
}

// TestMarkdownHasEverySection: the Markdown has the HTML's headings, in
// the HTML's order, for the full case, a fleet's and an almost empty one, so a
// section added to one template and not the other fails here.
func TestMarkdownHasEverySection(t *testing.T) {
	t.Parallel()
	empty := newCase(t)
	empty.add(custody.TypeCaseOpened, custody.CaseOpened{CaseID: "C-0", Examiner: "E"})
	for name, r := range map[string]*Report{"full": goldenReport(t), "empty": empty.load(), "fleet": goldenFleetReport(t)} {
		var h, m bytes.Buffer
		if err := r.WriteHTML(&h); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteMarkdown(&m); err != nil {
			t.Fatal(err)
		}
		var fromHTML, fromMD []string
		for _, g := range regexp.MustCompile(`<h[1-3][^>]*>(.*?)</h[1-3]>`).FindAllStringSubmatch(h.String(), -1) {
			fromHTML = append(fromHTML, html.UnescapeString(g[1]))
		}
		for _, line := range strings.Split(m.String(), "\n") {
			if s, ok := strings.CutPrefix(line, "## "); ok {
				fromMD = append(fromMD, s)
			} else if s, ok := strings.CutPrefix(line, "### "); ok {
				fromMD = append(fromMD, s)
			}
		}
		// The HTML's h1 is the case; the Markdown's title line says more.
		fromHTML = fromHTML[1:]
		if !slices.Equal(fromHTML, fromMD) {
			t.Errorf("%s case: the Markdown's headings\n%q\ndiffer from the HTML's\n%q", name, fromMD, fromHTML)
		}
		if strings.Contains(m.String(), "\n\n\n") {
			t.Errorf("%s case: the Markdown has two blank lines in a row:\n%s", name, m.String())
		}
	}
}
