package orchestrator

import (
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
)

func hostPlan(host string, stores []custody.Datastore, sources ...string) HostPlan {
	p := &Plan{Datastores: stores}
	for _, s := range sources {
		p.Items = append(p.Items, PlanItem{Source: s, Size: 10, Method: MethodCopy, Dest: EvidencePath(s, stores)})
		p.Bytes += 10
		p.Files++
	}
	return HostPlan{Host: host, Plan: p}
}

// TestDedupeFleet: a file on a shared datastore, named by its label on
// one host and by its UUID on the other, is copied once, by the first
// host; two hosts' own datastores of one name cannot both take the same
// evidence path: the later file is missed, not silently dropped.
func TestDedupeFleet(t *testing.T) {
	shared := custody.Datastore{Name: "shared", UUID: "aaaa-1", Paths: []string{"/vmfs/volumes/shared", "/vmfs/volumes/aaaa-1"}, Folder: "shared"}
	local1 := custody.Datastore{Name: "datastore1", UUID: "bbbb-1", Paths: []string{"/vmfs/volumes/datastore1", "/vmfs/volumes/bbbb-1"}, Folder: "datastore1"}
	local2 := custody.Datastore{Name: "datastore1", UUID: "cccc-2", Paths: []string{"/vmfs/volumes/datastore1", "/vmfs/volumes/cccc-2"}, Folder: "datastore1"}
	plans := []HostPlan{
		hostPlan("esx01", []custody.Datastore{shared, local1}, "/vmfs/volumes/shared/Web01/Web01-flat.vmdk", "/vmfs/volumes/datastore1/DC01/DC01.vmx"),
		hostPlan("esx02", []custody.Datastore{shared, local2}, "/vmfs/volumes/aaaa-1/Web01/Web01-flat.vmdk", "/vmfs/volumes/shared/DB01/DB01.vmx", "/vmfs/volumes/datastore1/DC01/DC01.vmx"),
	}
	// esx02 sees Web01's folder but not its registration: esx01 copies it.
	plans[1].Plan.NotCollected = []custody.Uncollected{
		{What: "unregistered VM", Name: "Web01", Path: "/vmfs/volumes/shared/Web01/Web01-flat.vmdk"},
		{What: "unregistered VM", Name: "Old", Path: "/vmfs/volumes/shared/Old/Old.vmx"},
	}
	if n := DedupeFleet(plans); n != 2 {
		t.Fatalf("took out %d items, want 2", n)
	}
	p1, p2 := plans[0].Plan, plans[1].Plan
	if p1.Files != 2 || len(p1.Copies()) != 2 || len(p1.NotCollected) != 0 {
		t.Errorf("the first host keeps its plan: %+v", p1)
	}
	if p2.Files != 1 || p2.Bytes != 10 {
		t.Errorf("second host: %d files, %d bytes", p2.Files, p2.Bytes)
	}
	if it := p2.Items[0]; it.Method != MethodSkip || !strings.Contains(it.Note, "copied once, by esx01") {
		t.Errorf("shared file: %+v", it)
	}
	if it := p2.Items[1]; it.Method != MethodCopy || it.Dest != "shared/DB01/DB01.vmx" {
		t.Errorf("a file only esx02 has is copied: %+v", it)
	}
	if it := p2.Items[2]; it.Method != MethodSkip || len(p2.NotCollected) != 2 || p2.NotCollected[0].Name != "Old" || !p2.NotCollected[1].Missed ||
		!strings.Contains(p2.NotCollected[1].Why, "esx01") {
		t.Errorf("a same-named other datastore's file: %+v %+v", it, p2.NotCollected)
	}
	if k1, _ := FileKey(p1.Items[0], p1.Datastores); k1 != "aaaa-1/Web01/Web01-flat.vmdk" {
		t.Errorf("key %q", k1)
	}
	if _, ok := FileKey(PlanItem{Source: "/dev/disks/mpx.vmhba32:C0:T0:L0"}, p1.Datastores); ok {
		t.Error("a device has no fleet key")
	}
}
