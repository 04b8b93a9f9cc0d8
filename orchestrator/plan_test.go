package orchestrator

import (
	"path"
	"testing"

	"github.com/esxsink/esxsink/esxi"
)

func testVM(id int, ds, dir string, power esxi.PowerState) *VM {
	d := "/vmfs/volumes/" + ds + "/" + dir
	return &VM{ID: id, Name: dir, Registered: true, Power: power, VMX: d + "/" + dir + ".vmx", Dir: d,
		Disks: []Disk{
			{Node: "scsi0:0", Descriptor: d + "/a.vmdk", Extents: []string{d + "/a-flat.vmdk"}},
			{Node: "scsi0:1", Descriptor: d + "/b.vmdk", Extents: []string{d + "/b-flat.vmdk"}, Independent: true, Mode: "independent-persistent"},
			{Node: "scsi0:2", Descriptor: d + "/p.vmdk", Extents: []string{d + "/p-rdmp.vmdk"}, RDM: &esxi.RDMInfo{Passthrough: true, Device: "vml.01"}},
			{Node: "scsi0:3", Descriptor: d + "/v.vmdk", Extents: []string{d + "/v-rdm.vmdk"}, RDM: &esxi.RDMInfo{Device: "vml.02"}},
		},
		Files: []File{
			{Name: "a-flat.vmdk", Path: d + "/a-flat.vmdk", Size: 1 << 20}, {Name: "a.vmdk", Path: d + "/a.vmdk", Size: 400},
			{Name: "a-000001-sesparse.vmdk", Path: d + "/a-000001-sesparse.vmdk", Size: 4096},
			{Name: "b-flat.vmdk", Path: d + "/b-flat.vmdk", Size: 2 << 20}, {Name: "b.vmdk", Path: d + "/b.vmdk", Size: 400},
			{Name: "p-rdmp.vmdk", Path: d + "/p-rdmp.vmdk", Size: 8 << 20}, {Name: "v-rdm.vmdk", Path: d + "/v-rdm.vmdk", Size: 4 << 20},
			{Name: dir + ".vmx", Path: d + "/" + dir + ".vmx", Size: 100}, {Name: dir + ".vmx.lck", Path: d + "/" + dir + ".vmx.lck"},
			{Name: "x.vswp", Path: d + "/x.vswp", Size: 1 << 20}, {Name: "vmware.log", Path: d + "/vmware.log", Size: 10},
		},
	}
}

func TestMakePlanMethods(t *testing.T) {
	// The same folder name on two datastores.
	on, off := testVM(1, "ds", "vm", esxi.PoweredOn), testVM(2, "other", "vm", esxi.PoweredOff)
	p := MakePlan([]*VM{on, off}, PlanOptions{SinkFree: -1, RDM: true})
	type key struct {
		vm   int
		name string
	}
	got := map[key]PlanItem{}
	for _, it := range p.Items {
		got[key{it.VMID, path.Base(it.Source)}] = it
		if it.Kind == KindLUN {
			got[key{it.VMID, it.Source}] = it
		}
	}
	for _, c := range []struct {
		vm           int
		name, method string
		live         bool
	}{
		{1, "a-flat.vmdk", MethodSnapshot, false},
		{1, "a-000001-sesparse.vmdk", MethodSnapshot, false},
		{1, "b-flat.vmdk", MethodSkip, false}, // independent, running
		{1, "p-rdmp.vmdk", MethodSkip, false}, // mapping file
		{1, "vm.vmx", MethodCopy, true},
		{1, "vm.vmx.lck", MethodSkip, false},
		{1, "x.vswp", MethodSkip, false},
		{1, LUNPrefix + "vml.01", MethodCopy, true},      // physical RDM: live
		{1, LUNPrefix + "vml.02", MethodSnapshot, false}, // virtual RDM: frozen
		{2, "b-flat.vmdk", MethodCopy, false},            // independent, powered off
		{2, "x.vswp", MethodCopy, false},
		{2, LUNPrefix + "vml.01", MethodCopy, false},
	} {
		it, ok := got[key{c.vm, c.name}]
		if !ok || it.Method != c.method || it.Live != c.live {
			t.Errorf("vm %d %s: %+v, want %s live=%v", c.vm, c.name, it, c.method, c.live)
		}
	}
	if d := got[key{1, "a-flat.vmdk"}].Dest; d != "vm/a-flat.vmdk" {
		t.Errorf("dest %q", d)
	}
	if d := got[key{2, "a-flat.vmdk"}].Dest; d != "vm (vmid 2)/a-flat.vmdk" {
		t.Errorf("second folder of the same name: %q", d)
	}
	if l := got[key{1, LUNPrefix + "vml.01"}]; l.Size != 8<<20 || l.Dest != "vm/vml.01.lun" {
		t.Errorf("LUN: %+v", l)
	}
}

// A disk in another folder is planned into the VM's evidence folder,
// renamed after its folder when the name is taken.
func TestMakePlanOutsideDisk(t *testing.T) {
	vm := testVM(1, "ds", "vm", esxi.PoweredOff)
	vm.Files = append(vm.Files,
		File{Name: "a-flat.vmdk", Path: "/vmfs/volumes/ds2/shared/a-flat.vmdk", Size: 512, Outside: true},
		File{Name: "c.vmdk", Path: "/vmfs/volumes/ds2/shared/c.vmdk", Size: 100, Outside: true})
	p := MakePlan([]*VM{vm}, PlanOptions{SinkFree: -1})
	dests := map[string]string{}
	for _, it := range p.Items {
		dests[it.Source] = it.Dest
	}
	if d := dests["/vmfs/volumes/ds2/shared/a-flat.vmdk"]; d != "vm/shared - a-flat.vmdk" {
		t.Errorf("clashing outside file: %q", d)
	}
	if d := dests["/vmfs/volumes/ds2/shared/c.vmdk"]; d != "vm/c.vmdk" {
		t.Errorf("outside file: %q", d)
	}
	if d := dests["/vmfs/volumes/ds/vm/a-flat.vmdk"]; d != "vm/a-flat.vmdk" {
		t.Errorf("folder file: %q", d)
	}
}
