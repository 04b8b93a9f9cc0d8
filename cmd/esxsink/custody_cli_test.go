package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/hashlog"
)

// caseRecords reads the custody log of caseDir.
func caseRecords(t *testing.T, caseDir string) []custody.Record {
	t.Helper()
	recs, _, err := hashlog.ReadLog(hashlog.LogPath(caseDir))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// recordsOf decodes the records of type typ.
func recordsOf[T any](t *testing.T, recs []custody.Record, typ string) []T {
	t.Helper()
	var out []T
	for _, r := range recs {
		if r.Type == typ {
			var v T
			if err := r.Decode(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
	}
	return out
}

// TestCollectCLIRecordsEveryRun: a run that fails before copying (a
// refused login, an unknown --vm, the sink's port in use) still says so
// in the custody log of the case it opened; every session records its
// examiner and command line (the password never); a reopened case
// records the second examiner; the host's clock is read at the start and
// end of a run and its offset reaches the report.
func TestCollectCLIRecordsEveryRun(t *testing.T) {
	lab := startLab(t, "8MiB")
	caseDir := filepath.Join(t.TempDir(), "case")

	failures := []struct {
		name string
		env  []string
		args []string
		want string // in the run.failed error
	}{
		{"wrong password", []string{"ESXSINK_PASSWORD=not-the-password"}, []string{"--vm", "1"}, "auth"},
		{"unknown --vm", nil, []string{"--vm", "no such VM"}, "no such VM"},
		{"sink port in use", nil, []string{"--vm", "2"}, "address already in use"},
	}
	for i, f := range failures {
		var ln net.Listener
		if f.name == "sink port in use" {
			var err error
			if ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", lab.nfsPort)); err != nil {
				t.Fatal(err)
			}
		}
		saved := lab.env
		lab.env = append(slices.Clone(saved), f.env...)
		out, errOut, code := lab.run(t, lab.collectArgs(caseDir, f.args...)...)
		lab.env = saved
		if ln != nil {
			ln.Close()
		}
		if code == 0 {
			t.Fatalf("%s: collect exited 0\n%s%s", f.name, out, errOut)
		}
		failed := recordsOf[custody.Step](t, caseRecords(t, caseDir), custody.TypeRunFailed)
		if len(failed) != i+1 || !strings.Contains(strings.ToLower(failed[i].Error), strings.ToLower(f.want)) {
			t.Fatalf("%s: run.failed records %+v, want %d, the last saying %q\n%s", f.name, failed, i+1, f.want, errOut)
		}
	}
	// The free port again, and a second examiner: a run that works.
	saved := lab.env
	lab.env = append(slices.Clone(saved), "ESXSINK_PASSWORD=Cli-Lab-1!")
	args := lab.collectArgs(caseDir, "--vm", "2", "--evidence-number", "EV-0042", "--description", "lab host, VM 2")
	args[slices.Index(args, "Test Examiner")] = "Second Examiner"
	out, errOut, code := lab.run(t, args...)
	lab.env = saved
	if code != 0 {
		t.Fatalf("collect: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"== esxsink collect: complete ==", "verified", "custody log    head seq", "esxsink verify " + caseDir,
		"undone         datastore \"esxsink-", "undone         lease /tmp/esxsink-"} {
		if !strings.Contains(out, want) {
			t.Errorf("closing statement lacks %q:\n%s", want, out)
		}
	}
	recs := caseRecords(t, caseDir)
	sessions := recordsOf[custody.Session](t, recs, custody.TypeSessionOpened)
	if len(sessions) != 4 || sessions[0].Examiner != "Test Examiner" || sessions[0].Reopened || sessions[3].Examiner != "Second Examiner" || !sessions[3].Reopened ||
		sessions[3].EvidenceNumber != "EV-0042" || !slices.Contains(sessions[3].Command, "--vm") {
		t.Errorf("sessions = %+v", sessions)
	}
	raw, _ := os.ReadFile(hashlog.LogPath(caseDir))
	if bytes.Contains(raw, []byte("Cli-Lab-1!")) || bytes.Contains(raw, []byte("not-the-password")) {
		t.Error("a password reached the custody log")
	}
	clocks := recordsOf[custody.HostClock](t, recs, custody.TypeHostClock)
	if len(clocks) != 2 || clocks[0].When != "start" || clocks[1].When != "end" || clocks[0].HostTime == "" || clocks[0].Error != "" {
		t.Errorf("host clock readings = %+v", clocks)
	}
	if out, code := esx(t, "", "verify", caseDir); code != 0 {
		t.Errorf("verify after the failed runs and a good one: exit %d\n%s", code, out)
	}
	if _, code := esx(t, "", "report", caseDir); code != 0 {
		t.Fatalf("report: exit %d", code)
	}
	var rep struct {
		Clocks  []custody.HostClock `json:"host_clocks"`
		Summary struct {
			OK bool `json:"ok"`
		} `json:"summary"`
	}
	b, err := os.ReadFile(filepath.Join(caseDir, "report.json"))
	if err != nil || json.Unmarshal(b, &rep) != nil || len(rep.Clocks) != 2 || !rep.Summary.OK {
		t.Errorf("report.json: clocks %+v, summary %+v (%v)", rep.Clocks, rep.Summary, err)
	}
	// cleanup changes the host only into a case's custody log.
	if out, errOut, code := lab.run(t, append([]string{"cleanup"}, lab.hostArgs...)...); code != 2 || !strings.Contains(errOut, "give --case") {
		t.Errorf("cleanup without --case: exit %d, want 2 asking for --case\n%s%s", code, out, errOut)
	}
	if out, errOut, code := lab.run(t, append([]string{"cleanup", "--case", caseDir, "--examiner", "Cleanup Examiner"}, lab.hostArgs...)...); code != 0 {
		t.Errorf("cleanup --case: exit %d\n%s%s", code, out, errOut)
	}
	if s := recordsOf[custody.Session](t, caseRecords(t, caseDir), custody.TypeSessionOpened); len(s) != 5 || s[4].Examiner != "Cleanup Examiner" || s[4].Command[1] != "cleanup" {
		t.Errorf("cleanup's session = %+v", s[len(s)-1])
	}
	if _, code := esx(t, "", "report", caseDir); code != 0 {
		t.Fatalf("report after cleanup: exit %d", code)
	}
	html, _ := os.ReadFile(filepath.Join(caseDir, "report.html"))
	if !bytes.Contains(html, []byte(`id="host-clock"`)) || !bytes.Contains(html, []byte("Offset (s, host")) {
		t.Error("report.html has no host clock table")
	}
	for _, want := range []string{"EV-0042", "lab host, VM 2", "Second Examiner", "Cleanup Examiner"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("report.html lacks %q (case details and sessions)", want)
		}
	}
}
