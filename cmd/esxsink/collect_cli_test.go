package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/hashlog"

	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/internal/peer"
	"github.com/esxsink/esxsink/nfssink"
	"github.com/esxsink/esxsink/orchestrator"
)

// cliLab is a small scenario for driving the binary: a running VM (our
// snapshot is needed) and a powered-off one.
const cliLab = `
host:
  hostname: esx-cli
  version: 8.0.2
  build: "22380479"
  user: root
  password: "Cli-Lab-1!"
datastores:
  - name: datastore1
    type: VMFS-6
vms:
  - id: 1
    name: Web "front" $(id) ` + "`id`" + `
    folder: Web front $(id)
    file: Web front $(id).vmx
    guest_os: ubuntu64Guest
    power: "on"
    memory_mb: 16
    logs: 1
    disks:
      - {size: %s, kind: thin}
  - id: 2
    name: Unused server
    guest_os: windows2019srvNext_64Guest
    power: "off"
    memory_mb: 16
    logs: 1
    disks:
      - {size: 4MiB, kind: thick}
`

// runningLab is `esxsink-lab` started as a trainer would, with what the
// other commands need to reach it.
type runningLab struct {
	cmd                 *exec.Cmd
	hostArgs            []string
	env                 []string
	nfsPort, portmapPor int
}

// startLab runs `esxsink-lab` on cliLab with a first disk of diskSize.
func startLab(t *testing.T, diskSize string) *runningLab {
	t.Helper()
	return startLabScenario(t, fmt.Sprintf(cliLab, diskSize))
}

// startLabScenario runs `esxsink-lab` on the scenario text.
func startLabScenario(t *testing.T, yaml string) *runningLab {
	t.Helper()
	dir := t.TempDir()
	scenario := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(scenario, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	port, pm := freePort(t), freePort(t)
	cmd := exec.Command(labBin, "--scenario", scenario, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--nfs-portmap-port", fmt.Sprint(pm),
		"--work-dir", filepath.Join(dir, "host"))
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	h := readLabBanner(t, stdout).hosts[0]
	return &runningLab{cmd: cmd, hostArgs: []string{"--host", fmt.Sprintf("127.0.0.1:%d", port), "--host-key", h.hostKey},
		env: append(os.Environ(), "ESXSINK_PASSWORD="+h.password), nfsPort: freePort(t), portmapPor: pm}
}

// readLabBanner reads what `esxsink-lab` prints up to its Ctrl-C line and
// parses it (parseLabBanner); the rest of stdout is
// drained so the lab never blocks on it.
func readLabBanner(t *testing.T, stdout io.Reader) labBanner {
	t.Helper()
	var b strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "Ctrl-C") {
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	parsed, err := parseLabBanner(b.String())
	if err != nil {
		t.Fatal(err)
	}
	return parsed
}

// run runs esxsink with the lab's password in the environment.
func (l *runningLab) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, esxsinkBin, args...)
	cmd.Env = l.env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func (l *runningLab) collectArgs(caseDir string, extra ...string) []string {
	args := append([]string{"collect"}, l.hostArgs...)
	args = append(args, "--case", caseDir, "--case-id", "CLI-1", "--examiner", "Test Examiner", "--nfs-port", fmt.Sprint(l.nfsPort), "--portmap-port", fmt.Sprint(l.portmapPor))
	return append(args, extra...)
}

// assertHostClean asks the host, through esxsink cleanup --dry-run, for
// leftovers of ours: there must be none.
func (l *runningLab) assertHostClean(t *testing.T) {
	t.Helper()
	out, errOut, code := l.run(t, append(append([]string{"cleanup"}, l.hostArgs...), "--dry-run")...)
	if code != 0 || !strings.Contains(out, "nothing of ours on the host") {
		t.Errorf("cleanup --dry-run (exit %d) finds leftovers:\n%s%s", code, out, errOut)
	}
}

func TestCollectCLIParallelJSONEvents(t *testing.T) {
	lab := startLab(t, "16MiB")
	caseDir := filepath.Join(t.TempDir(), "case")
	out, errOut, code := lab.run(t, lab.collectArgs(caseDir, "--all", "--parallel", "3", "--json-events", "--piece", "1MiB")...)
	if code != 0 {
		t.Fatalf("collect exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var started, finished int
	var last orchestrator.JSONEvent
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev orchestrator.JSONEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("stdout line is not JSON: %q: %v", line, err)
		}
		switch ev.Event {
		case "file.started":
			started++
		case "file.finished":
			finished++
			if ev.Result == nil || !ev.Result.Verified || ev.Result.HostHashes["md5"] != ev.Result.SinkHashes["md5"] || ev.Result.HostHashes["sha256"] != ev.Result.AtRest["sha256"] {
				t.Errorf("file.finished not verified: %+v", ev.Result)
			}
		}
		last = ev
	}
	if last.Event != "run.finished" || last.Report == nil || !last.Report.OK() || last.Case != caseDir || last.Error != "" {
		t.Fatalf("last event %+v", last)
	}
	if started == 0 || started != finished || finished != len(last.Report.Files) {
		t.Errorf("%d started, %d finished, %d in the report", started, finished, len(last.Report.Files))
	}
	// The VM whose name holds quotes and $(id) was collected under a safe
	// folder name, and nothing ran id on the host.
	found := false
	for _, f := range last.Report.Files {
		found = found || f.Item.VMName == "Web \"front\" $(id) `id`" && f.Verified
	}
	if !found {
		for _, f := range last.Report.Files {
			t.Logf("%q %s %v", f.Item.VMName, f.Item.Source, f.Verified)
		}
		t.Errorf("no file of the VM with quotes in its name in the report")
	}
	if o, c := esx(t, "", "verify", caseDir); c != 0 {
		t.Errorf("verify exit %d:\n%s", c, o)
	}
	lab.assertHostClean(t)
	// --piece 1MiB: a changed byte is located to its MiB.
	var flat string
	for _, f := range last.Report.Files {
		if strings.HasSuffix(f.Dest, "-flat.vmdk") && f.Size == 16<<20 {
			flat = f.Dest
		}
	}
	flip(t, filepath.Join(caseDir, "evidence", filepath.FromSlash(flat)), 5<<20+123)
	if o, c := esx(t, "", "verify", caseDir); c != 1 || !strings.Contains(o, "piece 5") {
		t.Errorf("verify after a changed byte at 5 MiB: exit %d:\n%s", c, o)
	}
}

// startCollectEvents starts esxsink collect with args (which ask for
// --json-events) and returns it, a scanner over its events and its stderr.
func startCollectEvents(t *testing.T, lab *runningLab, args []string) (*exec.Cmd, *bufio.Scanner, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(esxsinkBin, args...)
	cmd.Env = lab.env
	stdout, _ := cmd.StdoutPipe()
	errOut := &bytes.Buffer{}
	cmd.Stderr = errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	return cmd, sc, errOut
}

// TestCollectCLIInterrupt sends SIGINT while the running VM's disk is
// copied under our snapshot: the binary removes the snapshot, detaches the
// mount and exits non-zero, and the host is left as found.
func TestCollectCLIInterrupt(t *testing.T) {
	lab := startLab(t, "2GiB")
	caseDir := filepath.Join(t.TempDir(), "case")
	cmd, sc, errOut := startCollectEvents(t, lab, lab.collectArgs(caseDir, "--vm", "1", "--json-events"))
	var rest []string
	interrupted := false
	for sc.Scan() {
		var ev orchestrator.JSONEvent
		_ = json.Unmarshal(sc.Bytes(), &ev)
		if !interrupted && ev.Event == "file.started" && strings.HasSuffix(ev.Source, "-flat.vmdk") {
			time.Sleep(300 * time.Millisecond) // let the copy get under way
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			interrupted = true
		}
		rest = append(rest, sc.Text())
	}
	err := cmd.Wait()
	if !interrupted {
		t.Fatalf("the disk copy never started:\n%s\n%s", strings.Join(rest, "\n"), errOut.String())
	}
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() == 0 {
		t.Fatalf("collect after SIGINT: %v (want a non-zero exit)\n%s", err, errOut.String())
	}
	var last orchestrator.JSONEvent
	if err := json.Unmarshal([]byte(rest[len(rest)-1]), &last); err != nil || last.Event != "run.finished" || last.Report == nil {
		t.Fatalf("last line %q: %v", rest[len(rest)-1], err)
	}
	if !strings.Contains(last.Error, "interrupted") && !strings.Contains(last.Error, "canceled") {
		t.Errorf("run.finished error %q does not say it was interrupted", last.Error)
	}

	if len(last.Report.Cleanup) != 0 {
		t.Errorf("cleanup errors: %v", last.Report.Cleanup)
	}
	lab.assertHostClean(t)
	// The custody log records the undo.
	log, err := os.ReadFile(filepath.Join(caseDir, "custody.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{custody.TypeSnapshotRemoved, custody.TypeNASUnmounted, custody.TypeSessionOpened, custody.TypeHostClock, custody.TypeFilePlanned} {
		if !bytes.Contains(log, []byte(`"type":"`+typ+`"`)) {
			t.Errorf("custody log lacks %s", typ)
		}
	}
	// Every planned file is named, with its state.
	for _, f := range last.Report.Files {
		if f.Item.Source == "" || f.Item.Dest == "" {
			t.Errorf("a file without a name in the report: %+v", f)
		}
		if !f.Verified && !f.CopiedLive && f.Error == "" {
			t.Errorf("%s: neither verified nor a reason", f.Item.Source)
		}
	}
	// The interrupted case is intact but incomplete, and verify, the
	// report and collect agree on it.
	out, code := esx(t, "", "verify", caseDir)
	if code != 3 || !strings.Contains(out, "RESULT: INCOMPLETE") {
		t.Errorf("verify of an interrupted case: exit %d, want 3\n%s", code, out)
	}
	out, code = esx(t, "", "report", caseDir)
	if code != 0 || !strings.Contains(out, "RESULT: ATTENTION") {
		t.Errorf("report of an interrupted case: exit %d\n%s", code, out)
	}
	var rep struct {
		Summary struct {
			OK      bool   `json:"ok"`
			Verdict string `json:"verdict"`
		} `json:"summary"`
	}
	b, err := os.ReadFile(filepath.Join(caseDir, "report.json"))
	if err != nil || json.Unmarshal(b, &rep) != nil || rep.Summary.OK || rep.Summary.Verdict != "INCOMPLETE" {
		t.Errorf("report.json summary %+v (%v), want INCOMPLETE", rep.Summary, err)
	}
}

// TestVerifyEmptyCaseIsIncomplete: a case with nothing in it never passes.
func TestVerifyEmptyCaseIsIncomplete(t *testing.T) {
	t.Parallel()
	caseDir := filepath.Join(t.TempDir(), "case")
	l, err := hashlog.Open(caseDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(custody.TypeCaseOpened, custody.CaseOpened{CaseID: "E-1", Examiner: "E"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	out, code := esx(t, "", "verify", caseDir)
	if code != 3 || !strings.Contains(out, "no evidence file") {
		t.Errorf("verify of an empty case: exit %d, want 3\n%s", code, out)
	}
	if out, code = esx(t, "", "report", caseDir); code != 0 || !strings.Contains(out, "RESULT: ATTENTION") {
		t.Errorf("report of an empty case: exit %d\n%s", code, out)
	}
}

// TestRedactArgs: the command line is recorded, its secrets are not.
func TestRedactArgs(t *testing.T) {
	t.Parallel()
	got := strings.Join(redactArgs([]string{"esxsink", "collect", "--password=hunter2", "--password", "s3cret", "--password-file", "/k/pw", "--vm", "password"}), " ")
	if strings.Contains(got, "hunter2") || strings.Contains(got, "s3cret") || !strings.Contains(got, "--password-file /k/pw") || !strings.Contains(got, "--vm password") {
		t.Errorf("redactArgs = %q", got)
	}
}

// TestCollectCLIThroughRunningServe: collect --sink drives a running
// esxsink serve through its control API; the serve's custody log holds
// collect's records too, and the case verifies.
func TestCollectCLIThroughRunningServe(t *testing.T) {
	lab := startLab(t, "8MiB")
	caseDir := filepath.Join(t.TempDir(), "served case")
	serve := exec.Command(esxsinkBin, "serve", "--case", caseDir, "--case-id", "SRV-1", "--examiner", "Test Examiner",
		"--address", "127.0.0.1", "--nfs-port", fmt.Sprint(lab.nfsPort), "--portmap", "builtin", "--portmap-port", fmt.Sprint(lab.portmapPor),
		"--allow", "127.0.0.1")
	stdout, _ := serve.StdoutPipe()
	var serveErr bytes.Buffer
	serve.Stderr = &serveErr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serve.Process.Kill(); serve.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !strings.Contains(sc.Text(), "press Ctrl-C") {
	}
	go func() {
		for sc.Scan() {
		}
	}()
	args := append([]string{"collect"}, lab.hostArgs...)
	args = append(args, "--sink", caseDir, "--vm", "Unused server", "--quiet")
	out, errOut, code := lab.run(t, args...)
	if code != 0 {
		t.Fatalf("collect --sink exit %d\n%s\n%s\nserve: %s", code, out, errOut, serveErr.String())
	}
	// The serve refuses records that only it may write.
	cl := nfssink.NewClient(stateDir(caseDir))
	var refused *nfssink.APIError
	if _, err := cl.Append(context.Background(), "file.finalized", map[string]string{"path": "x"}); !errors.As(err, &refused) || refused.Status != http.StatusForbidden {
		t.Errorf("a file.finalized record from outside the sink: %v", err)
	}
	serve.Process.Signal(syscall.SIGINT)
	if err := serve.Wait(); err != nil {
		t.Fatalf("serve: %v\n%s", err, serveErr.String())
	}
	log, err := os.ReadFile(filepath.Join(caseDir, "custody.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"case.opened", "command.run", custody.TypeNASMounted, custody.TypeFileVerified, "file.finalized", custody.TypeNASUnmounted, "sink.stopped"} {
		if !bytes.Contains(log, []byte(`"type":"`+typ+`"`)) {
			t.Errorf("custody log lacks %s", typ)
		}
	}
	if o, c := esx(t, "", "verify", caseDir); c != 0 {
		t.Errorf("verify exit %d:\n%s", c, o)
	}
}

// TestCollectCLIProgressBarsOnATerminal runs collect on a pseudo-terminal
// (util-linux script) so the progress bars are drawn: a total bar with
// rate and ETA, and each finished file printed above the bars.
func TestCollectCLIProgressBarsOnATerminal(t *testing.T) {
	script := peer.Require(t, "script")
	lab := startLab(t, "256MiB")
	caseDir := filepath.Join(t.TempDir(), "case")
	var quoted []string
	for _, a := range append([]string{esxsinkBin}, lab.collectArgs(caseDir, "--vm", "1")...) {
		quoted = append(quoted, esxi.Quote(a))
	}
	// A new pseudo-terminal has no size until someone sets it, as a
	// terminal emulator does.
	cmd := exec.Command(script, "-qfec", "stty cols 120 rows 40; exec "+strings.Join(quoted, " "), "/dev/null")
	cmd.Env = append(lab.env, "TERM=xterm", "COLUMNS=120")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("collect on a terminal: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"total", "ETA", "MiB", "Web front $(id)-flat.vmdk", "verified"} {
		if !strings.Contains(text, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(text, "\x1b[") {
		t.Errorf("no terminal control sequences: the bars were not drawn:\n%s", text)
	}
}
