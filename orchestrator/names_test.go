package orchestrator

import (
	"context"
	"path"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/hashlog"
)

// colonLab has a VM whose disks are named a:b.vmdk, a?b.vmdk and
// a_b.vmdk: ESXi stores all three, a Windows workstation none of the
// first two.
const colonLab = `
host: {hostname: esx-names, version: 8.0.2, build: "22380479", user: root, password: "Names-Lab-1!"}
datastores:
  - {name: datastore1, type: VMFS-6}
vms:
  - id: 4
    name: "ops:tools?"
    memory_mb: 16
    disks:
      - {name: "a:b.vmdk", size: 1MiB}
      - {name: "a?b.vmdk", size: 2MiB}
      - {name: "a_b.vmdk", size: 3MiB}
`

// Item 3 of issue 11's follow-up, with real names: a:b.vmdk and a?b.vmdk
// (and the folder ops:tools?) are made storable with a tag of their own,
// a_b.vmdk keeps its name, every file is collected whole under its own
// path and the case is complete; each file's record keeps its host path.
func TestCollectNamesNotStorable(t *testing.T) {
	e := startSim(t, colonLab)
	ctx := context.Background()
	inv, err := Discover(ctx, e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	vms, err := SelectVMs(inv, []string{"4"}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	plan := MakePlan(vms, PlanOptions{SinkFree: -1, Datastores: inv.Datastores})
	rep, err := Collect(ctx, plan, CollectOptions{Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(),
		SinkHost: "127.0.0.1", Logger: quietLogger(), UnmountBackoff: 50e6, Retries: 1})
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	folder := "datastore1/" + EvidenceName("ops:tools?")
	want := map[string]string{ // host name -> evidence path
		"a:b-flat.vmdk": folder + "/" + EvidenceName("a:b-flat.vmdk"),
		"a?b-flat.vmdk": folder + "/" + EvidenceName("a?b-flat.vmdk"),
		"a_b-flat.vmdk": folder + "/a_b-flat.vmdk",
		"a:b.vmdk":      folder + "/" + EvidenceName("a:b.vmdk"),
		"a?b.vmdk":      folder + "/" + EvidenceName("a?b.vmdk"),
		"a_b.vmdk":      folder + "/a_b.vmdk",
	}
	sizes := map[string]int64{"a:b-flat.vmdk": 1 << 20, "a?b-flat.vmdk": 2 << 20, "a_b-flat.vmdk": 3 << 20}
	got := map[string]FileOutcome{}
	for _, f := range rep.Files {
		if !f.Verified {
			t.Errorf("%s: %s", f.Item.Source, f.Error)
		}
		got[path.Base(f.Item.Source)] = f
	}
	for name, dest := range want {
		f, ok := got[name]
		if !ok || f.Dest != dest || (sizes[name] != 0 && f.Size != sizes[name]) {
			t.Errorf("%s: collected %v to %q (%d bytes), want %q", name, ok, f.Dest, f.Size, dest)
		}
	}
	if len(plan.NotCollected) != 0 {
		t.Errorf("not collected: %+v", plan.NotCollected)
	}
	vr, err := hashlog.VerifyCase(ctx, e.caseDir)
	if err != nil {
		t.Fatal(err)
	}
	if v := vr.Verdict(); v != custody.Complete {
		t.Errorf("verify: %s: %+v", v, vr.Assessment.Problems)
	}
	for _, f := range vr.Assessment.Files {
		if strings.HasSuffix(f.Source, "/a:b-flat.vmdk") && f.Path != want["a:b-flat.vmdk"] {
			t.Errorf("the case records %s at %s", f.Source, f.Path)
		}
	}
	assertClean(t, e, nil)
}
