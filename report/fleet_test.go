package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
)

// Hosts of the fleet case: esx01 and esx02 collected, esx03 refused.
const (
	fleetRun = "f1"
	esx01    = "10.0.0.11:22"
	esx02    = "10.0.0.12:22"
)

// fleetCase writes what collect --vcenter --enable-ssh --all writes for
// three hosts: esx03 refused (lockdown), esx01's SSH started for the run
// and stopped again, two files verified on esx01, on esx02 one verified,
// one failed and a disagreement between vCenter and the host.
func fleetCase(c *caseLog) *caseLog {
	c.add(custody.TypeCaseOpened, custody.CaseOpened{CaseID: "FLEET-1", Examiner: "R. Roe", ToolVersion: "esxsink 1.2", SinkHost: "ws1", OS: "linux/amd64"})
	c.add(custody.TypeVCenterConnected, custody.VCenterConnected{Endpoint: "vcsa:443", URL: "https://vcsa/sdk", User: "administrator@vsphere.local", RunID: fleetRun,
		Thumbprint: "AB:CD", TrustedBy: "pinned thumbprint", Product: "VMware vCenter Server", Version: "8.0.2", APIType: "VirtualCenter"})
	c.add(custody.TypeNote, custody.Note{Text: custody.FleetRefusalNote("esx03", "it is in lockdown mode (lockdownNormal)")})
	c.add(custody.TypeNotCollected, custody.Uncollected{Host: "esx03", RunID: fleetRun, What: "VM", Name: "Jump01", Path: "[esx03-local] Jump01/Jump01.vmx",
		Why: "host esx03 refused: it is in lockdown mode (lockdownNormal)", Missed: true})
	c.add(custody.TypeNote, custody.Note{Text: "fleet run " + fleetRun + ": the embedded sink on 10.0.0.5 allows mounts only from the collected hosts: 10.0.0.11, 10.0.0.12"})
	stopped, running := custody.ServiceState{Policy: "off"}, custody.ServiceState{Running: true, Policy: "off"}
	c.add(custody.TypeHostServiceChanged, custody.ServiceChange{Endpoint: "vcsa:443", Host: "esx01", HostMoRef: "host-11", RunID: fleetRun, Service: "TSM-SSH",
		Action: custody.ServiceStart, Before: stopped, After: &running})
	c.add(custody.TypeNote, custody.Note{Text: custody.FleetHostNote(fleetRun, "esx01", esx01, "ra")})
	c.add(custody.TypeNote, custody.Note{Text: custody.FleetHostNote(fleetRun, "esx02", esx02, "rb")})
	c.add(custody.TypeAnomaly, custody.Step{Host: "esx02", RunID: fleetRun, VM: "Old-App",
		Note: `vCenter places VM "Old-App" (vm-9, [esx02-local] Old-App/Old-App.vmx) on host esx02, but the host itself (over SSH) has no registered VM with that .vmx`})
	for _, h := range []struct{ addr, run, name string }{{esx01, "ra", "esx01"}, {esx02, "rb", "esx02"}} {
		c.add(custody.TypeHostIdentified, custody.HostIdentified{Address: h.addr, User: "root", HostKey: "SHA256:" + h.name, HostKeyType: "ssh-ed25519",
			Hostname: h.name + ".example", Product: "VMware ESXi", Version: "8.0.2", Build: 22380479, Update: 2, Patch: -1})
		c.add(custody.TypeAcquisitionStarted, custody.Step{Host: h.addr, RunID: h.run, Label: "esxsink-" + h.run, Files: 2, Size: 200, HostHashAlgorithms: []string{"md5"}})
		c.add(custody.TypeNASMounted, custody.Step{Host: h.addr, RunID: h.run, Label: "esxsink-" + h.run, Note: "10.0.0.5:/esxsink"})
	}
	verified := func(addr, run, vm string, vmid int, dest, md5 string) {
		c.finalized(dest, 100, md5, shaA)
		c.add(custody.TypeFileVerified, custody.Step{Host: addr, RunID: run, VMID: vmid, VM: vm, Source: "/vmfs/volumes/ds/" + dest, Dest: dest, Size: 100,
			HostHashes: map[string]string{"md5": md5}, SinkHashes: map[string]string{"md5": md5}, AtRest: map[string]string{"md5": md5}})
	}
	verified(esx01, "ra", "DC01", 1, "esx01-local/DC01/DC01.vmx", md5A)
	verified(esx01, "ra", "DC01", 1, "esx01-local/DC01/DC01-flat.vmdk", md5B)
	verified(esx02, "rb", "DB01", 3, "shared-vmfs01/DB01/DB01.vmx", md5C)
	c.add(custody.TypeFileSkipped, custody.Step{Host: esx02, RunID: "rb", VMID: 3, VM: "DB01", Source: "/vmfs/volumes/shared-vmfs01/DB01/DB01.nvram",
		Note: "on a datastore esx01 shares: copied by esx01"})
	c.add(custody.TypeFileFailed, custody.Step{Host: esx02, RunID: "rb", VMID: 3, VM: "DB01", Source: "/vmfs/volumes/shared-vmfs01/DB01/DB01-flat.vmdk",
		Error: "lost connection to the host"})
	for _, h := range []struct{ addr, run string }{{esx01, "ra"}, {esx02, "rb"}} {
		c.add(custody.TypeNASUnmounted, custody.Step{Host: h.addr, RunID: h.run, Label: "esxsink-" + h.run})
	}
	c.add(custody.TypeAcquisitionFinished, custody.Step{Host: esx01, RunID: "ra", Label: "esxsink-ra", Files: 2})
	c.add(custody.TypeAcquisitionFinished, custody.Step{Host: esx02, RunID: "rb", Label: "esxsink-rb", Files: 1, Failed: 1})
	c.add(custody.TypeHostServiceChanged, custody.ServiceChange{Endpoint: "vcsa:443", Host: "esx01", HostMoRef: "host-11", RunID: fleetRun, Service: "TSM-SSH",
		Action: custody.ServiceStop, Before: running, After: &stopped})
	return c
}

// goldenFleetReport is the fleet case with what depends on where and
// when the test runs fixed.
func goldenFleetReport(t *testing.T) *Report {
	t.Helper()
	return loadFixed(fleetCase(newFixedCase(t)), "/cases/FLEET-1")
}

// TestFleetReport: a fleet case's report leads with the fleet: its
// verdict is incomplete and names the refused host; each host has its
// section with its own files, service changes, anomalies and cleanup;
// the totals are the case's.
func TestFleetReport(t *testing.T) {
	t.Parallel()
	r := fleetCase(newCase(t)).load()
	if r.Fleet == nil {
		t.Fatal("no fleet in the report of a fleet case")
	}
	if r.Summary.OK || r.Summary.Verdict != custody.Incomplete.String() {
		t.Errorf("verdict %s ok %v, want INCOMPLETE", r.Summary.Verdict, r.Summary.OK)
	}
	if !strings.Contains(r.Summary.Statement, "esx03: REFUSED, left untouched: it is in lockdown mode") {
		t.Errorf("the statement does not name the refused host: %s", r.Summary.Statement)
	}
	f := r.Fleet
	if f.Asked != 3 || f.Complete != 1 || f.Partly != 1 || f.Refused != 1 || f.Failed != 0 || f.VMs != 2 {
		t.Errorf("fleet %+v", f)
	}
	status := map[string]custody.HostStatus{}
	for _, h := range f.Hosts {
		status[h.Name] = h.Status
	}
	want := map[string]custody.HostStatus{"esx01": custody.HostComplete, "esx02": custody.HostPartly, "esx03": custody.HostRefused}
	if len(status) != len(want) {
		t.Errorf("hosts %v, want %v", status, want)
	}
	for n, s := range want {
		if status[n] != s {
			t.Errorf("%s: %q, want %q", n, status[n], s)
		}
	}
	esx01, esx02, esx03 := f.Hosts[0], f.Hosts[1], f.Hosts[2]
	if esx01.Name != "esx01" || esx01.Counts.Verified != 2 || len(esx01.ServiceChanges) != 2 || len(esx01.Anomalies) != 0 ||
		!strings.Contains(strings.Join(esx01.Cleanup, "\n"), "TSM-SSH put back as found (stopped, policy off)") {
		t.Errorf("esx01's section %+v", esx01)
	}
	if esx02.Name != "esx02" || esx02.Counts.Verified != 1 || esx02.Counts.NotStarted+esx02.Counts.Failed != 1 || len(esx02.Anomalies) != 2 ||
		!strings.Contains(esx02.Anomalies[0].Text, `vCenter places VM "Old-App"`) || len(esx02.Skipped) != 1 {
		t.Errorf("esx02's section %+v", esx02)
	}
	if esx03.Name != "esx03" || esx03.Touched || len(esx03.NotCollected) != 1 || esx03.NotCollected[0].VM != "Jump01" || len(esx03.Groups) != 0 {
		t.Errorf("esx03's section %+v", esx03)
	}
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"## Fleet: hosts and totals", "| Hosts | 3 hosts asked for: 1 collected fully, 1 PARTLY COLLECTED, 1 REFUSED, 0 FAILED |",
		"| Verified | 3 |", "| Not verified | 1 FAILED, 1 skipped, 1 NOT COLLECTED |", "## Host esx01: collected fully", "## Host esx02: PARTLY COLLECTED",
		"## Host esx03: REFUSED", "Nothing on this host was touched", "| start | stopped, policy off | running, policy off |"} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("the Markdown lacks %q:\n%s", s, md.String())
		}
	}
}

// TestSingleHostHasNoFleet: a case of one host collected with collect
// --host has no fleet part.
func TestSingleHostHasNoFleet(t *testing.T) {
	t.Parallel()
	if r := acquisition(t).load(); r.Fleet != nil {
		t.Errorf("a single host's case has a fleet: %+v", r.Fleet)
	}
}
