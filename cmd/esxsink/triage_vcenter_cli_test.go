package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/vsphere"
)

// keptFiles checks every evidence.kept record of the case against its
// file (the SHA-256 recorded as written and at rest is the file's) and
// returns the records by part name.
func keptFiles(t *testing.T, caseDir string) map[string]custody.Kept {
	t.Helper()
	out := map[string]custody.Kept{}
	for _, k := range recordsOf[custody.Kept](t, caseRecords(t, caseDir), custody.TypeEvidenceKept) {
		h, size, err := caseFileSHA256(caseDir, k.Path)
		if err != nil {
			t.Errorf("kept %s: %v", k.Name, err)
			continue
		}
		if h != k.SHA256 || h != k.AtRest || size != k.Size {
			t.Errorf("kept %s (%s): file hashes to %s (%d bytes), recorded %s / at rest %s (%d bytes)", k.Name, k.Path, h, size, k.SHA256, k.AtRest, k.Size)
		}
		if !strings.HasPrefix(k.Path, custody.VCenterFolder+"/") {
			t.Errorf("kept %s outside the vcenter folder: %s", k.Name, k.Path)
		}
		out[k.Name] = k
	}
	return out
}

// caseFileSHA256 hashes the case file rel (slash-separated).
func caseFileSHA256(caseDir, rel string) (string, int64, error) {
	b, err := os.ReadFile(filepath.Join(caseDir, filepath.FromSlash(rel)))
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), int64(len(b)), err
}

// readKept is the text of the kept part name.
func readKept(t *testing.T, caseDir string, kept map[string]custody.Kept, name string) string {
	t.Helper()
	k, ok := kept[name]
	if !ok {
		t.Fatalf("no %s kept", name)
	}
	b, err := os.ReadFile(filepath.Join(caseDir, filepath.FromSlash(k.Path)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTriageVCenter: triage --vcenter --all on the fleet lab keeps every
// part of the vCenter-side evidence, each file's SHA-256 in the custody
// log, what the scenario put in vCenter's history and the hosts'
// settings in it; it touches no host's SSH service; verify passes, and
// a kept file changed afterwards is not verified.
func TestTriageVCenter(t *testing.T) {
	l := startFleetLab(t)
	before := l.sshStates(t)
	caseDir := filepath.Join(t.TempDir(), "case")
	out, errOut, code := l.run(t, l.triageArgs(caseDir, "--all", "--since", "2w")...)
	if code != 0 {
		t.Fatalf("triage --vcenter exit %d\n%s\n%s", code, out, errOut)
	}
	kept := keptFiles(t, caseDir)
	var names []string
	for n := range kept {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"access", "access-events", "events", "inventory", "sessions", "settings of esx01", "settings of esx02", "settings of esx03", "tasks"}
	if !slices.Equal(names, want) {
		t.Errorf("kept %q, want %q", names, want)
	}
	for name, wants := range map[string][]string{
		"events":            {`"type": "esx.audit.ssh.enabled"`, `"host": "esx02"`, "Failed to revert the execution state of the virtual machine DB01"},
		"access-events":     {"203.0.113.66", "UserLoginSessionEvent"},
		"settings of esx02": {`"key": "UserVars.ESXiShellTimeOut"`},
		"settings of esx03": {`"key": "VMkernel.Boot.execInstalledOnly"`, "udp://192.0.2.10:514"},
		"inventory":         {`"name": "Jump01"`, `"lockdown_mode": "lockdownNormal"`},
		"access":            {`"roles"`, `"permissions"`},
		"sessions":          {`"current": true`},
	} {
		text := readKept(t, caseDir, kept, name)
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("kept %s lacks %s", name, w)
			}
		}
	}
	for _, w := range []string{"kept           events", "sha256", "== esxsink triage --vcenter: complete ==", "kept from API  9 file(s)"} {
		if !strings.Contains(out, w) && !(w == "sha256" && strings.Contains(out, kept["events"].SHA256)) {
			t.Errorf("the output lacks %q:\n%s", w, out)
		}
	}
	if after := l.sshStates(t); !equalStates(before, after) {
		t.Errorf("triage --vcenter changed SSH: before %+v after %+v", before, after)
	}
	if n := len(recordsOf[custody.ServiceChange](t, caseRecords(t, caseDir), custody.TypeHostServiceChanged)); n != 0 {
		t.Errorf("triage --vcenter recorded %d service changes", n)
	}

	if vout, verr, vcode := l.run(t, "verify", caseDir); vcode != 0 || !strings.Contains(vout, "PASS (9 verified)") {
		t.Fatalf("verify exit %d\n%s\n%s", vcode, vout, verr)
	}
	events := filepath.Join(caseDir, filepath.FromSlash(kept["events"].Path))
	if err := os.Chmod(events, 0o644); err != nil {
		t.Fatal(err)
	}
	// One host name changed in the event history: the same size.
	text := readKept(t, caseDir, kept, "events")
	edited := strings.Replace(text, `"host": "esx02"`, `"host": "esx01"`, 1)
	if edited == text {
		t.Fatal("nothing to edit")
	}
	if err := os.WriteFile(events, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	vout, verr, vcode := l.run(t, "verify", caseDir)
	if vcode != 1 || !strings.Contains(vout, kept["events"].Path) || !strings.Contains(vout, "content changed") || !strings.Contains(vout+verr, "FAIL") {
		t.Errorf("verify of a changed kept file: exit %d (want 1)\n%s\n%s", vcode, vout, verr)
	}
}

// TestTriageVCenterDenied: a vCenter user who may not read permissions
// (the lab refuses RetrieveAllPermissions with NoPermission): the other
// parts are kept, the permissions are recorded as not collected with the
// privilege named, triage exits 1 saying so, and verify says the case is
// incomplete, naming the part.
func TestTriageVCenterDenied(t *testing.T) {
	l := startFleetLabWith(t, func(s string) string {
		return strings.Replace(s, "  datacenter: Forensics-DC\n", "  datacenter: Forensics-DC\n  denied: [{method: RetrieveAllPermissions, privilege: System.View}]\n", 1)
	})
	caseDir := filepath.Join(t.TempDir(), "case")
	out, errOut, code := l.run(t, l.triageArgs(caseDir, "--esx-host", "esx02", "-q")...)
	if code != 1 {
		t.Fatalf("triage --vcenter without the privilege: exit %d (want 1)\n%s\n%s", code, out, errOut)
	}
	for _, w := range []string{"NOT COLLECTED  access ", "lacks privilege System.View", "NOT COMPLETE"} {
		if !strings.Contains(out, w) {
			t.Errorf("the output lacks %q:\n%s", w, out)
		}
	}
	if !strings.Contains(errOut, "could not be read") {
		t.Errorf("the error does not say a part could not be read:\n%s", errOut)
	}
	kept := keptFiles(t, caseDir)
	if _, ok := kept["access"]; ok || len(kept) != 6 {
		t.Errorf("kept %v: want every part but access, one host's settings", kept)
	}
	missed := recordsOf[custody.Uncollected](t, caseRecords(t, caseDir), custody.TypeNotCollected)
	if len(missed) != 1 || missed[0].Name != "access" || !missed[0].Missed || !strings.Contains(missed[0].Why, "System.View") || !strings.Contains(missed[0].Why, "AuthorizationManager") {
		t.Errorf("not collected: %+v", missed)
	}
	vout, verr, vcode := l.run(t, "verify", caseDir)
	if vcode != 3 || !strings.Contains(vout, "access") || !strings.Contains(vout, "System.View") {
		t.Errorf("verify exit %d, want 3 naming the permissions not collected\n%s\n%s", vcode, vout, verr)
	}
}

// TestCollectVCenterHostArtifacts: collect --vcenter --enable-ssh
// --host-artifacts on two hosts triages each into its own folder (both
// hosts' /etc/passwd verified, neither in the other's place, command
// outputs per host), keeps the vCenter-side evidence of both once,
// restores SSH as it found it, and the case verifies.
func TestCollectVCenterHostArtifacts(t *testing.T) {
	l := startFleetLab(t)
	before := l.sshStates(t)
	caseDir := filepath.Join(t.TempDir(), "case")
	out, errOut, code := l.run(t, l.collectArgs(caseDir, "--enable-ssh", "--host-artifacts", "--since", "2w", "--vm", "Web01", "--vm", "Old-App", "-q")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if after := l.sshStates(t); !equalStates(before, after) {
		t.Errorf("TSM-SSH not restored: before %+v after %+v", before, after)
	}
	recs := caseRecords(t, caseDir)
	checkOpenedOnce(t, recs, "esx01")
	verified := map[string]string{}
	for _, s := range recordsOf[custody.Step](t, recs, custody.TypeFileVerified) {
		verified[s.Dest] = s.Host
	}
	for _, h := range []string{"esx01", "esx02"} {
		for _, f := range []string{"etc/passwd", "etc/rc.local.d/local.sh", "var/spool/cron/crontabs/root"} {
			dest := "host-artifacts/" + h + "/files/" + f
			if _, ok := verified[dest]; !ok {
				t.Errorf("%s not verified", dest)
			}
			if _, err := os.Stat(filepath.Join(caseDir, "evidence", filepath.FromSlash(dest))); err != nil {
				t.Error(err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(caseDir, "evidence", "host-artifacts", "files")); !os.IsNotExist(err) {
		t.Errorf("a fleet run put host artifacts in the single-host folder: %v", err)
	}
	outputs := map[string]int{}
	for _, o := range recordsOf[custody.TriageOutput](t, recs, custody.TypeTriageOutput) {
		if !o.Ran {
			continue
		}
		if !strings.HasPrefix(o.StdoutFile, "host-commands/"+o.Host+"/") {
			t.Errorf("%s's output %s is not in its host's folder", o.Host, o.StdoutFile)
		}
		if h, _, err := caseFileSHA256(caseDir, o.StdoutFile); err != nil || h != o.StdoutSHA256 {
			t.Errorf("%s's output %s (%v) does not hash to its record's %s", o.Host, o.StdoutFile, err, o.StdoutSHA256)
		}
		outputs[o.Host]++
	}
	if outputs["esx01"] < 20 || outputs["esx01"] != outputs["esx02"] || len(outputs) != 2 {
		t.Errorf("triage outputs per host: %v", outputs)
	}
	kept := keptFiles(t, caseDir)
	for _, name := range []string{"inventory", "events", "tasks", "access-events", "access", "sessions", "settings of esx01", "settings of esx02"} {
		if _, ok := kept[name]; !ok {
			t.Errorf("vCenter-side evidence %s not kept", name)
		}
	}
	if _, ok := kept["settings of esx03"]; ok || len(kept) != 8 {
		t.Errorf("kept %d parts (esx03 is not collected): %v", len(kept), kept)
	}
	var scope struct {
		Scope struct {
			Hosts  []string       `json:"hosts"`
			Period vsphere.Period `json:"period"`
		} `json:"scope"`
	}
	if err := json.Unmarshal([]byte(readKept(t, caseDir, kept, "events")), &scope); err != nil {
		t.Fatal(err)
	}
	if d := scope.Scope.Period.Until.Sub(scope.Scope.Period.Since); !slices.Equal(scope.Scope.Hosts, []string{"esx01", "esx02"}) || d != 14*24*time.Hour {
		t.Errorf("events kept for %v over %v, want esx01 and esx02 over --since 2w", scope.Scope.Hosts, d)
	}
	for _, w := range []string{"host triage: esx01,", "host triage: esx02,", "kept from API  8 file(s)"} {
		if !strings.Contains(out, w) {
			t.Errorf("the output lacks %q", w)
		}
	}
	if vout, verr, vcode := l.run(t, "verify", caseDir); vcode != 0 {
		t.Errorf("verify exit %d\n%s\n%s", vcode, vout, verr)
	}
	if !strings.Contains(out, "hosts          2 hosts asked for: 2 collected fully") {
		t.Errorf("the closing statement does not count two hosts collected fully:\n%s", out)
	}
	if rout, rerr, rcode := l.run(t, "report", caseDir); rcode != 0 {
		t.Fatalf("report exit %d\n%s\n%s", rcode, rout, rerr)
	}
	md, err := os.ReadFile(filepath.Join(caseDir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"| Hosts | 2 hosts asked for: 2 collected fully", "vCenter-side evidence read through the API of", "host-artifacts/esx02/files/etc/passwd", kept["events"].Path} {
		if !strings.Contains(string(md), w) {
			t.Errorf("report.md lacks %q", w)
		}
	}
}

// TestCollectVCenterHostArtifactsOfHostsWithoutVMs: --host-artifacts
// with --cluster/--esx-host asks for every host in scope, also one that
// runs none of the selected VMs: esx01 (in Prod, DB01 is on esx02) is
// triaged, and esx03 (named, in lockdown) is refused with its artifacts
// recorded NOT COLLECTED, so verify says the case is incomplete.
func TestCollectVCenterHostArtifactsOfHostsWithoutVMs(t *testing.T) {
	l := startFleetLab(t)
	before := l.sshStates(t)
	caseDir := filepath.Join(t.TempDir(), "case")
	out, errOut, code := l.run(t, l.collectArgs(caseDir, "--enable-ssh", "--host-artifacts", "--cluster", "Prod", "--esx-host", "esx03", "--vm", "DB01", "-q")...)
	if code != 1 || !strings.Contains(out+errOut, "esx03") {
		t.Fatalf("exit %d (want 1, esx03 refused)\n%s\n%s", code, out, errOut)
	}
	if after := l.sshStates(t); !equalStates(before, after) {
		t.Errorf("TSM-SSH not restored: before %+v after %+v", before, after)
	}
	recs := caseRecords(t, caseDir)
	verified := map[string]bool{}
	for _, s := range recordsOf[custody.Step](t, recs, custody.TypeFileVerified) {
		verified[s.Dest] = true
	}
	for _, want := range []string{"host-artifacts/esx01/files/etc/passwd", "host-artifacts/esx02/files/etc/passwd", "shared-vmfs01/DB01/DB01-flat.vmdk"} {
		if !verified[want] {
			t.Errorf("%s not verified", want)
		}
	}
	for dest := range verified {
		if strings.Contains(dest, "DC01") || strings.Contains(dest, "Web01") || strings.Contains(dest, "esx03") {
			t.Errorf("%s verified, but only DB01 and the hosts' artifacts were asked for", dest)
		}
	}
	missed := false
	for _, u := range recordsOf[custody.Uncollected](t, recs, custody.TypeNotCollected) {
		if u.Host == "esx03" && u.What == "host artifacts" && u.Missed {
			missed = true
		}
	}
	if !missed {
		t.Error("esx03's host artifacts are not recorded as not collected")
	}
	vout, verr, vcode := l.run(t, "verify", caseDir)
	if vcode != 3 || !strings.Contains(vout, "esx03") {
		t.Errorf("verify exit %d, want 3 naming esx03:\n%s\n%s", vcode, vout, verr)
	}
}
