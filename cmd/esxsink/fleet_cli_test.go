package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/internal/peer"
	"github.com/esxsink/esxsink/vsphere"
)

// fleetLab is `esxsink-lab` on examples/lab/vcenter.yaml, started as a
// trainer would, with what collect --vcenter needs to reach it.
type fleetLab struct {
	vcURL, thumbprint, vcUser, vcPass string
	sshPort, portmapPort, nfsPort     int
	hostKeys                          map[string]string // host -> SHA256 fingerprint
	// password is every host's root password.
	password string
	env      []string
}

// fleetPassword is every host's root password in the test's copy of
// examples/lab/vcenter.yaml, so one password logs in to every host.
const fleetPassword = "Fleet-Lab-1!"

// startFleetLab starts the lab on a copy of examples/lab/vcenter.yaml
// whose hosts share fleetPassword.
func startFleetLab(t *testing.T) *fleetLab {
	t.Helper()
	return startFleetLabWith(t, func(s string) string { return s })
}

// startFleetLabWith starts the lab on the scenario as edit changes it.
func startFleetLabWith(t *testing.T, edit func(string) string) *fleetLab {
	t.Helper()
	src, err := os.ReadFile("../../examples/lab/vcenter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yaml := edit(regexp.MustCompile(`password: "Esx0\d-Lab-1!"`).ReplaceAllString(string(src), `password: "`+fleetPassword+`"`))
	scenario := filepath.Join(t.TempDir(), "vcenter.yaml")
	if err := os.WriteFile(scenario, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return startFleetLabOn(t, scenario)
}

// startFleetLabOn starts the lab on a fleet scenario whose hosts share
// one root password: collect --vcenter logs in to every host with one.
func startFleetLabOn(t *testing.T, scenario string) *fleetLab {
	t.Helper()
	dir := t.TempDir()
	l := &fleetLab{sshPort: freePort(t), portmapPort: freePort(t), nfsPort: freePort(t), hostKeys: map[string]string{}}
	cmd := exec.Command(labBin, "--scenario", scenario, "--listen", fmt.Sprintf("127.0.0.1:%d", l.sshPort),
		"--nfs-portmap-port", fmt.Sprint(l.portmapPort), "--work-dir", filepath.Join(dir, "hosts"))
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	banner := readLabBanner(t, stdout)
	l.vcURL, l.thumbprint, l.vcUser, l.vcPass = banner.vcenter.url, banner.vcenter.thumbprint, banner.vcenter.user, banner.vcenter.password
	for _, h := range banner.hosts {
		l.hostKeys[h.name] = h.hostKey
		if h.password != banner.hosts[0].password {
			t.Fatalf("the hosts of %s have different root passwords (%s)", scenario, h.name)
		}
	}
	l.password = banner.hosts[0].password
	l.env = append(os.Environ(), "ESXSINK_VCENTER_PASSWORD="+l.vcPass, "ESXSINK_PASSWORD="+l.password)
	return l
}

// vcenterArgs are command's arguments for the lab's vCenter and a case.
func (l *fleetLab) vcenterArgs(command, caseDir string, extra ...string) []string {
	return append([]string{command, "--vcenter", l.vcURL, "--vcenter-thumbprint", l.thumbprint, "--vcenter-user", l.vcUser,
		"--case", caseDir, "--case-id", "FLEET-1", "--examiner", "tester"}, extra...)
}

// triageArgs are triage --vcenter's arguments for the lab's vCenter.
func (l *fleetLab) triageArgs(caseDir string, extra ...string) []string {
	return l.vcenterArgs("triage", caseDir, extra...)
}

func (l *fleetLab) collectArgs(caseDir string, extra ...string) []string {
	return l.vcenterArgs("collect", caseDir, append([]string{"--ssh-port", fmt.Sprint(l.sshPort), "--accept-new-host-keys",
		"--nfs-port", fmt.Sprint(l.nfsPort), "--portmap-port", fmt.Sprint(l.portmapPort)}, extra...)...)
}

// sshStates reads every host's TSM-SSH through the API, as an
// administrator would check it.
func (l *fleetLab) sshStates(t *testing.T) map[string]custody.ServiceState {
	t.Helper()
	ctx := context.Background()
	c, err := vsphere.Dial(ctx, vsphere.Config{URL: l.vcURL, User: l.vcUser, Thumbprint: l.thumbprint,
		Password: func(context.Context, string, string) (string, error) { return l.vcPass, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	out := map[string]custody.ServiceState{}
	for _, h := range []string{"esx01", "esx02", "esx03"} {
		st, err := c.HostSSHService(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		out[h] = st
	}
	return out
}

func (l *fleetLab) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
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

// TestCollectVCenterFleet: collect --vcenter --enable-ssh --all on the
// fleet scenario collects esx01 and esx02 in parallel into one case, the
// shared datastore's files once, refuses esx03 (lockdown) by name and
// leaves every host's SSH service as it was; verify says the case is
// incomplete and names esx03.
func TestCollectVCenterFleet(t *testing.T) {
	l := startFleetLab(t)
	before := l.sshStates(t)
	if before["esx01"].Running || !before["esx02"].Running || before["esx03"].Running {
		t.Fatalf("the scenario's SSH states: %+v", before)
	}
	caseDir := filepath.Join(t.TempDir(), "case")
	out, errOut, code := l.run(t, l.collectArgs(caseDir, "--enable-ssh", "--all", "--parallel-hosts", "2", "-q")...)
	if code != 1 {
		t.Fatalf("exit %d (want 1: esx03 refused)\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "REFUSED HOST   esx03: it is in lockdown mode") || !strings.Contains(errOut, "esx03") {
		t.Errorf("esx03's refusal is not named:\n%s\n%s", out, errOut)
	}
	if after := l.sshStates(t); !equalStates(before, after) {
		t.Errorf("TSM-SSH not restored: before %+v after %+v", before, after)
	}

	recs := caseRecords(t, caseDir)
	// Every file once, whichever host copied it; the shared datastore's
	// VMs from both hosts; nothing of esx03.
	seen := map[string]string{}
	for _, s := range recordsOf[custody.Step](t, recs, custody.TypeFileVerified) {
		if other, dup := seen[s.Dest]; dup {
			t.Errorf("%s verified twice (%s and %s)", s.Dest, other, s.Host)
		}
		seen[s.Dest] = s.Host
	}
	for _, want := range []string{"shared-vmfs01/Web01/Web01-flat.vmdk", "shared-vmfs01/DB01/DB01-flat.vmdk",
		"esx01-local/DC01/DC01-flat.vmdk", "esx02-local/Old-App/Old-App-flat.vmdk"} {
		if _, ok := seen[want]; !ok {
			t.Errorf("%s not verified; verified: %v", want, seen)
		}
		if _, err := os.Stat(filepath.Join(caseDir, "evidence", want)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(caseDir, "evidence", "esx03-local")); !os.IsNotExist(err) {
		t.Errorf("esx03 was refused, yet its datastore is in the evidence: %v", err)
	}
	// The sink allowed the two hosts, each mounting from its own address.
	var clients []string
	for _, m := range recordsOf[custody.Mount](t, recs, custody.TypeMountAccepted) {
		ip, _, _ := strings.Cut(m.Client, ":")
		if !slices.Contains(clients, ip) {
			clients = append(clients, ip)
		}
	}
	slices.Sort(clients)
	if !slices.Equal(clients, []string{"127.0.0.11", "127.0.0.12"}) {
		t.Errorf("mounts came from %v, want esx01's and esx02's addresses", clients)
	}
	var notes []string
	for _, n := range recordsOf[custody.Note](t, recs, custody.TypeNote) {
		notes = append(notes, n.Text)
	}
	all := strings.Join(notes, "\n")
	for _, want := range []string{"allows mounts only from the collected hosts: 127.0.0.11, 127.0.0.12",
		"host esx03 refused, left untouched", l.hostKeys["esx01"], l.hostKeys["esx02"]} {
		if !strings.Contains(all, want) {
			t.Errorf("no note with %q in\n%s", want, all)
		}
	}
	// SSH was started on esx01 only, and stopped again.
	checkOpenedOnce(t, recs, "esx01")

	vout, verr, vcode := l.run(t, "verify", caseDir)
	if vcode != 3 || !strings.Contains(vout, "esx03") || !strings.Contains(vout, "Jump01") {
		t.Errorf("verify exit %d, want 3 naming esx03 and its VMs:\n%s\n%s", vcode, vout, verr)
	}
	checkFleetReport(t, l, caseDir, out, recordsOf[custody.Step](t, recs, custody.TypeFileVerified))
}

// checkFleetReport: esxsink report on the fleet case leads with the
// fleet, names esx03 as refused in its verdict, has a section for each
// host, and its totals, the whole fleet's and each host's, are the
// file.verified records'; collect's closing statement (closing) says
// the same hosts as the report.
func checkFleetReport(t *testing.T, l *fleetLab, caseDir, closing string, verified []custody.Step) {
	t.Helper()
	if out, errOut, code := l.run(t, "report", caseDir); code != 0 {
		t.Fatalf("report: exit %d\n%s\n%s", code, out, errOut)
	}
	md, err := os.ReadFile(filepath.Join(caseDir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	result, _, _ := strings.Cut(string(md), "\n## ")
	if !strings.Contains(result, "INCOMPLETE") || !strings.Contains(result, "esx03: REFUSED, left untouched: it is in lockdown mode") {
		t.Errorf("the report's verdict does not say the fleet is incomplete and esx03 refused:\n%s", result)
	}
	for _, want := range []string{"\n## Fleet: hosts and totals\n", "| Hosts | 3 hosts asked for: 2 collected fully, 0 PARTLY COLLECTED, 1 REFUSED, 0 FAILED |",
		fmt.Sprintf("| Verified | %d |", len(verified)), "\n## Host esx01: collected fully\n", "\n## Host esx02: collected fully\n",
		"\n## Host esx03: REFUSED\n", "Nothing on this host was touched", "| TSM-SSH | start | stopped, policy off | running, policy off |",
		"TSM-SSH put back as found"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	raw, err := os.ReadFile(filepath.Join(caseDir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Fleet struct {
			Hosts []struct {
				Name   string         `json:"name"`
				Addrs  []string       `json:"addresses"`
				Counts custody.Counts `json:"counts"`
			} `json:"host_sections"`
		} `json:"fleet"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	perHost := map[string]int{}
	for _, s := range verified {
		perHost[s.Host]++
	}
	total := 0
	for _, h := range rep.Fleet.Hosts {
		total += h.Counts.Verified
		want := 0
		for _, a := range h.Addrs {
			want += perHost[a]
		}
		if h.Counts.Verified != want || (h.Name != "esx03" && want == 0) {
			t.Errorf("host %s (%v): the report counts %d verified, the records %d", h.Name, h.Addrs, h.Counts.Verified, want)
		}
		if h.Name != "esx03" && !strings.Contains(closing, "host           "+h.Name+" (") {
			t.Errorf("collect's closing statement has no line for %s:\n%s", h.Name, closing)
		}
	}
	if len(rep.Fleet.Hosts) != 3 || total != len(verified) {
		t.Errorf("the report's hosts %+v count %d verified files, the records %d", rep.Fleet.Hosts, total, len(verified))
	}
	if !strings.Contains(closing, "hosts          3 hosts asked for: 2 collected fully, 0 PARTLY COLLECTED, 1 REFUSED, 0 FAILED") {
		t.Errorf("collect's closing statement does not count the hosts as the report does:\n%s", closing)
	}
}

// TestCollectVCenterInterrupt: Ctrl-C as the first file starts leaves
// every host's SSH service as it was found.
func TestCollectVCenterInterrupt(t *testing.T) {
	l := startFleetLab(t)
	before := l.sshStates(t)
	caseDir := filepath.Join(t.TempDir(), "case")
	cmd := exec.Command(esxsinkBin, l.collectArgs(caseDir, "--enable-ssh", "--all", "--json-events")...)
	cmd.Env = l.env
	stdout, _ := cmd.StdoutPipe()
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	sc := bufio.NewScanner(stdout)
	started := false
	for sc.Scan() {
		var ev struct {
			Event string `json:"event"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Event == "file.started" {
			started = true
			break
		}
	}
	if !started {
		cmd.Wait()
		t.Fatalf("no file.started event; stderr:\n%s", errOut.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stdout)
	err := cmd.Wait()
	if err == nil {
		t.Fatalf("interrupted collect exited 0:\n%s", rest)
	}
	if !strings.Contains(string(rest)+errOut.String(), "interrupted") {
		t.Errorf("the run does not say it was interrupted:\n%s\n%s", rest, errOut.String())
	}
	if after := l.sshStates(t); !equalStates(before, after) {
		t.Errorf("TSM-SSH not restored after Ctrl-C: before %+v after %+v\n%s", before, after, errOut.String())
	}
	// The run had opened esx01's SSH, so the restore had work to do.
	checkOpenedOnce(t, caseRecords(t, caseDir), "esx01")

	// The same collect with --resume finishes the job: only esx03 is
	// missing from the case, and SSH is again left as found.
	out, rerr, code := l.run(t, l.collectArgs(caseDir, "--enable-ssh", "--all", "--resume", "-q")...)
	if code != 1 || !strings.Contains(out, "REFUSED HOST   esx03") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, rerr)
	}
	if after := l.sshStates(t); !equalStates(before, after) {
		t.Errorf("TSM-SSH not restored after the resumed run: %+v -> %+v", before, after)
	}
	vout, _, vcode := l.run(t, "verify", caseDir)
	result := vout[strings.LastIndex(vout, "RESULT:"):]
	if vcode != 3 || strings.Contains(result, "NOT STARTED") || strings.Contains(result, "FAILED") || !strings.Contains(result, "NOT COLLECTED") {
		t.Errorf("verify after resume: exit %d\n%s", vcode, vout)
	}
}

// checkOpenedOnce: the run's only service changes started SSH on host
// and stopped it again.
func checkOpenedOnce(t *testing.T, recs []custody.Record, host string) {
	t.Helper()
	var changes []string
	for _, ch := range recordsOf[custody.ServiceChange](t, recs, custody.TypeHostServiceChanged) {
		changes = append(changes, ch.Host+" "+ch.Action)
	}
	if !slices.Equal(changes, []string{host + " start", host + " stop"}) {
		t.Errorf("service changes %v, want %s's SSH started and stopped", changes, host)
	}
}

func equalStates(a, b map[string]custody.ServiceState) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w.Running != v.Running || w.Policy != v.Policy {
			return false
		}
	}
	return true
}

// TestCollectVCenterDisagree: esx02 forgets Old-App (unregistered in its
// shell) while vCenter still places it there. collect --vcenter --all
// records the disagreement, names Old-App as not collected, exits 1, and
// verify finds the case incomplete; the rest of esx02 is collected.
func TestCollectVCenterDisagree(t *testing.T) {
	sshpass := peer.Require(t, "sshpass")
	sshBin := peer.Require(t, "ssh")
	l := startFleetLab(t)
	shell := func(cmd string) string {
		t.Helper()
		out, err := exec.Command(sshpass, "-p", l.password, sshBin, "-p", fmt.Sprint(l.sshPort), "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "root@127.0.0.12", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("%s on esx02: %v\n%s", cmd, err, out)
		}
		return string(out)
	}
	vmid := ""
	for _, line := range strings.Split(shell("vim-cmd vmsvc/getallvms"), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "Old-App" {
			vmid = f[0]
		}
	}
	if vmid == "" {
		t.Fatal("Old-App is not registered on esx02")
	}
	shell("vim-cmd vmsvc/unregister " + vmid)

	caseDir := filepath.Join(t.TempDir(), "case")
	out, errOut, code := l.run(t, l.collectArgs(caseDir, "--esx-host", "esx02", "--all", "-q")...)
	if code != 1 || !strings.Contains(errOut, `"Old-App"`) {
		t.Fatalf("exit %d, want 1 naming Old-App:\n%s\n%s", code, out, errOut)
	}
	recs := caseRecords(t, caseDir)
	var anomalies []string
	for _, s := range recordsOf[custody.Step](t, recs, custody.TypeAnomaly) {
		anomalies = append(anomalies, s.Note)
	}
	if len(anomalies) != 1 || !strings.Contains(anomalies[0], `vCenter places VM "Old-App"`) {
		t.Errorf("anomalies %q", anomalies)
	}
	missed := false
	for _, u := range recordsOf[custody.Uncollected](t, recs, custody.TypeNotCollected) {
		missed = missed || (u.Name == "Old-App" && u.Missed && u.Host == "esx02")
	}
	if !missed {
		t.Error("Old-App is not recorded as asked for and not collected")
	}
	if _, err := os.Stat(filepath.Join(caseDir, "evidence", "shared-vmfs01", "DB01", "DB01-flat.vmdk")); err != nil {
		t.Errorf("the rest of esx02 is collected: %v", err)
	}
	if vout, _, vcode := l.run(t, "verify", caseDir); vcode != 3 || !strings.Contains(vout, "Old-App") {
		t.Errorf("verify exit %d, want 3 naming Old-App:\n%s", vcode, vout)
	}
}

// TestCollectVCenterNoEnableSSH: without --enable-ssh a host whose SSH is
// stopped is refused with the flag that would open it, and nothing on it
// changes; the dry run says the same and changes nothing anywhere.
func TestCollectVCenterNoEnableSSH(t *testing.T) {
	l := startFleetLab(t)
	before := l.sshStates(t)
	out, errOut, code := l.run(t, l.collectArgs(filepath.Join(t.TempDir(), "dry"), "--all", "--dry-run")...)
	if code != 1 || !regexp.MustCompile(`host esx01: REFUSED: .*add --enable-ssh`).MatchString(out) ||
		!strings.Contains(out, "host esx02: collect over SSH at 127.0.0.12:") || !strings.Contains(out, "host esx03: REFUSED: it is in lockdown mode") {
		t.Errorf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	caseDir := filepath.Join(t.TempDir(), "case")
	out, errOut, code = l.run(t, l.collectArgs(caseDir, "--esx-host", "esx01", "-q")...)
	if code != 1 || !strings.Contains(out+errOut, "esx01") || !strings.Contains(out+errOut, "add --enable-ssh") {
		t.Errorf("exit %d, want 1 naming esx01 and --enable-ssh:\n%s\n%s", code, out, errOut)
	}
	if n := len(recordsOf[custody.ServiceChange](t, caseRecords(t, caseDir), custody.TypeHostServiceChanged)); n != 0 {
		t.Errorf("%d service changes without --enable-ssh", n)
	}
	if after := l.sshStates(t); !equalStates(before, after) {
		t.Errorf("SSH states changed: %+v -> %+v", before, after)
	}
	if vout, _, vcode := l.run(t, "verify", caseDir); vcode != 3 || !strings.Contains(vout, "DC01") {
		t.Errorf("verify exit %d, want 3 naming esx01's VMs:\n%s", vcode, vout)
	}
}

// TestCleanupVCenterAfterKill: a collect --vcenter killed outright
// (SIGKILL: no restore) leaves esx01's SSH running; cleanup --vcenter
// --case puts it back as the run found it, recorded under that run, and
// a second cleanup finds nothing left to do.
func TestCleanupVCenterAfterKill(t *testing.T) {
	l := startFleetLab(t)
	before := l.sshStates(t)
	caseDir := filepath.Join(t.TempDir(), "case")
	cmd := exec.Command(esxsinkBin, l.collectArgs(caseDir, "--enable-ssh", "--all", "--json-events")...)
	cmd.Env = l.env
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"file.started"`) {
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if st := l.sshStates(t)["esx01"]; !st.Running {
		t.Fatalf("killed as it copied, the run had opened esx01's SSH: %+v", st)
	}
	args := []string{"cleanup", "--vcenter", l.vcURL, "--vcenter-thumbprint", l.thumbprint, "--vcenter-user", l.vcUser, "--case", caseDir, "--examiner", "tester"}
	if out, errOut, code := l.run(t, append(args, "--dry-run")...); code != 0 || !strings.Contains(out, "to restore: TSM-SSH on esx01") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	if st := l.sshStates(t)["esx01"]; !st.Running {
		t.Fatal("the dry run changed esx01")
	}
	out, errOut, code := l.run(t, args...)
	if code != 0 || !strings.Contains(out, "undone:     TSM-SSH on esx01") {
		t.Fatalf("cleanup: exit %d\n%s\n%s", code, out, errOut)
	}
	if after := l.sshStates(t); !equalStates(before, after) {
		t.Errorf("TSM-SSH not restored by cleanup: %+v -> %+v", before, after)
	}
	if out, _, code := l.run(t, args...); code != 0 || !strings.Contains(out, "every SSH service the case's runs changed was put back") {
		t.Errorf("second cleanup: exit %d\n%s", code, out)
	}
}
