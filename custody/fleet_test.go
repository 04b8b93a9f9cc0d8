package custody

import (
	"testing"
)

// verifiedOn adds one verified copy by run on host (an address).
func (c *caseLog) verifiedOn(host, run, vm, dest string) {
	c.add(TypeFileFinalized, FileFinalized{Path: dest, Size: 10, Hashes: hashes(md5A), AtRest: hashes(md5A)})
	c.add(TypeFileVerified, Step{RunID: run, Host: host, VM: vm, VMID: 1, Source: "/vmfs/volumes/ds/" + dest, Dest: dest, Size: 10,
		HostHashes: hashes(md5A), SinkHashes: hashes(md5A), AtRest: hashes(md5A)})
}

// TestFleetHosts: each host of a case is judged from the records about
// it, whichever name they give it (inventory name, address, its own run
// id); what is the fleet's (vCenter, a VM on no host) is no host.
func TestFleetHosts(t *testing.T) {
	t.Parallel()
	var c caseLog
	// First run: esx01 collected, esx02 refused, esx03's preparation
	// failed (no note ties a run to it), a VM on no host; the run failed
	// at the end, recorded against the vCenter.
	c.add(TypeVCenterConnected, VCenterConnected{Endpoint: "vc:443", RunID: "f1"})
	c.add(TypeNote, Note{Text: FleetRefusalNote("esx02", "it is in lockdown mode")})
	c.add(TypeNotCollected, Uncollected{Host: "esx02", RunID: "f1", What: "VM", Name: "B", Why: "host esx02 refused", Missed: true})
	c.add(TypeNotCollected, Uncollected{Host: NoHost, What: "VM", Name: "O", Why: "on no host", Missed: true})
	c.add(TypeNote, Note{Text: FleetHostNote("f1", "esx01", "10.0.0.1:22", "r1")})
	c.verifiedOn("10.0.0.1:22", "r1", "A", "ds1/A/A.vmx")
	c.add(TypeNotCollected, Uncollected{Host: "esx03", RunID: "f1", What: "VM", Name: "C", Why: "host esx03: connection refused", Missed: true})
	c.add(TypeRunFailed, Step{Host: "https://vc/sdk", RunID: "f1", Error: "stopped"})
	f := NewFleet(c.recs, Assess(c.recs, nil))
	if !f.IsFleet() || len(f.Runs) != 1 || f.Runs[0] != "f1" {
		t.Fatalf("fleet runs %v", f.Runs)
	}
	status := func() map[string]HostStatus {
		out := map[string]HostStatus{}
		for _, h := range f.Hosts {
			out[h.Name] = h.Status
		}
		return out
	}
	want := map[string]HostStatus{"esx01": HostComplete, "esx02": HostRefused, "esx03": HostFailed}
	if got := status(); len(got) != len(want) || got["esx01"] != want["esx01"] || got["esx02"] != want["esx02"] || got["esx03"] != want["esx03"] {
		t.Errorf("hosts %v, want %v", got, want)
	}
	if h := f.Host("esx01"); h.Counts.Verified != 1 || h.VMs != 1 || !h.Touched || len(h.Addrs) != 1 || h.Runs[0] != "r1" {
		t.Errorf("esx01 %+v", h)
	}
	if h := f.Host("esx02"); h.Touched || len(h.Problems) != 1 || h.Refused != "it is in lockdown mode" {
		t.Errorf("esx02 %+v", h)
	}
	if n := f.HostOf("10.0.0.1:22", ""); n != "esx01" {
		t.Errorf("10.0.0.1:22 is %q, want esx01", n)
	}

	// A second fleet run into the case collects esx02: it is no longer
	// refused, but what the first run missed keeps it partly collected.
	c.add(TypeNote, Note{Text: FleetHostNote("f2", "esx02", "10.0.0.2:22", "r2")})
	c.verifiedOn("10.0.0.2:22", "r2", "B", "ds2/B/B.vmx")
	f = NewFleet(c.recs, Assess(c.recs, nil))
	if h := f.Host("esx02"); h.Status != HostPartly || h.Counts.Verified != 1 {
		t.Errorf("esx02 after a second run: %+v", h)
	}
	if len(f.Runs) != 2 {
		t.Errorf("fleet runs %v", f.Runs)
	}
}

// TestSingleHostIsNoFleet: a case collected with collect --host has one
// host, known by its address, and is no fleet.
func TestSingleHostIsNoFleet(t *testing.T) {
	t.Parallel()
	var c caseLog
	c.add(TypeHostIdentified, HostIdentified{Address: "10.0.0.9:22"})
	c.add(TypeAcquisitionStarted, Step{Host: "10.0.0.9:22", RunID: "r9", Files: 1})
	c.verifiedOn("10.0.0.9:22", "r9", "A", "ds/A/A.vmx")
	c.add(TypeAcquisitionFinished, Step{Host: "10.0.0.9:22", RunID: "r9", Files: 1})
	f := NewFleet(c.recs, Assess(c.recs, nil))
	if f.IsFleet() || len(f.Hosts) != 1 || f.Hosts[0].Name != "10.0.0.9:22" || f.Hosts[0].Status != HostComplete {
		t.Errorf("fleet %+v, host %+v", f, f.Hosts)
	}
}

// TestFleetVCenterEvidence: a triage --vcenter case (the API read, files
// kept, a part not collected) is no fleet and has no host; in a fleet
// run, a vCenter part not collected does not make the vCenter a host.
func TestFleetVCenterEvidence(t *testing.T) {
	t.Parallel()
	sha := "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
	vcenterParts := func(c *caseLog, run string) {
		c.add(TypeEvidenceKept, Kept{Path: "vcenter/" + run + "/events.json", Size: 3, SHA256: sha, AtRest: sha, Source: "vc:443", Name: "events", RunID: run})
		c.add(TypeNotCollected, Uncollected{Host: "vc:443", RunID: run, What: WhatVCenterEvidence, Name: "access", Why: "lacks privilege System.View", Missed: true})
	}
	var c caseLog
	c.add(TypeVCenterConnected, VCenterConnected{Endpoint: "vc:443", RunID: "t1"})
	c.add(TypeAcquisitionStarted, Step{Host: "vc:443", RunID: "t1", Kind: KindVCenterTriage})
	vcenterParts(&c, "t1")
	c.add(TypeAcquisitionFinished, Step{Host: "vc:443", RunID: "t1", Kind: KindVCenterTriage})
	if f := NewFleet(c.recs, Assess(c.recs, nil)); f.IsFleet() || len(f.Hosts) != 0 {
		t.Errorf("triage --vcenter: fleet runs %v, hosts %+v", f.Runs, f.Hosts)
	}

	var e caseLog
	e.add(TypeVCenterConnected, VCenterConnected{Endpoint: "vc:443", RunID: "t2"})
	e.add(TypeRunFailed, Step{Host: "vc:443", RunID: "t2", Kind: KindVCenterTriage, Error: "no such host"})
	if f := NewFleet(e.recs, Assess(e.recs, nil)); f.IsFleet() || len(f.Hosts) != 0 {
		t.Errorf("a failed triage --vcenter: fleet runs %v, hosts %+v", f.Runs, f.Hosts)
	}

	var d caseLog
	d.add(TypeVCenterConnected, VCenterConnected{Endpoint: "vc:443", RunID: "f1"})
	vcenterParts(&d, "f1")
	d.add(TypeNote, Note{Text: FleetHostNote("f1", "esx01", "10.0.0.1:22", "r1")})
	d.verifiedOn("10.0.0.1:22", "r1", "A", "ds1/A/A.vmx")
	f := NewFleet(d.recs, Assess(d.recs, nil))
	if !f.IsFleet() || len(f.Hosts) != 1 || f.Hosts[0].Name != "esx01" || f.Hosts[0].Status != HostComplete {
		for _, h := range f.Hosts {
			t.Logf("host %+v", *h)
		}
		t.Errorf("fleet with vCenter evidence: runs %v, %d hosts", f.Runs, len(f.Hosts))
	}
}
