package orchestrator

import (
	"errors"
	"maps"
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/esxsink/esxsink/custody"
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
	t.Parallel()
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
	} {
		it, ok := got[key{c.vm, c.name}]
		if !ok || it.Method != c.method || it.Live != c.live {
			t.Errorf("vm %d %s: %+v, want %s live=%v", c.vm, c.name, it, c.method, c.live)
		}
	}
	// The evidence folder mirrors the datastores: the same folder name
	// on two datastores is two folders, nothing renamed.
	if d := got[key{1, "a-flat.vmdk"}].Dest; d != "ds/vm/a-flat.vmdk" {
		t.Errorf("dest %q", d)
	}
	if d := got[key{2, "a-flat.vmdk"}].Dest; d != "other/vm/a-flat.vmdk" {
		t.Errorf("second folder of the same name: %q", d)
	}
	if l := got[key{1, LUNPrefix + "vml.01"}]; l.Size != 8<<20 || l.Dest != "devices/vml.01.raw" {
		t.Errorf("LUN: %+v", l)
	}
	// Both VMs map vml.01: it is copied once, and each mapping file says
	// where its image is.
	if _, twice := got[key{2, LUNPrefix + "vml.01"}]; twice {
		t.Error("a LUN two VMs map is planned twice")
	}
	for _, vm := range []int{1, 2} {
		if n := got[key{vm, "p-rdmp.vmdk"}].Note; !strings.Contains(n, "devices/vml.01.raw") {
			t.Errorf("vm %d mapping file's note %q does not name the LUN's image", vm, n)
		}
	}
}

// A LUN mapped twice by one VM (a virtual and a physical mapping of one
// device) is read once.
func TestMakePlanLUNMappedTwice(t *testing.T) {
	t.Parallel()
	vm := testVM(1, "ds", "vm", esxi.PoweredOff)
	vm.Disks[3].RDM.Device = "vml.01"
	p := MakePlan([]*VM{vm}, PlanOptions{SinkFree: -1, RDM: true})
	var luns []PlanItem
	for _, it := range p.Items {
		if it.Kind == KindLUN {
			luns = append(luns, it)
		}
	}
	if len(luns) != 1 || luns[0].Dest != "devices/vml.01.raw" || luns[0].Method != MethodCopy {
		t.Fatalf("LUN items %+v, want one copy of vml.01", luns)
	}
}

// Two datastores whose names differ only in characters the workstation
// cannot store, and a datastore named like one of our top folders, get
// folders of their own, recorded in the table; a UUID path and a name
// path reach the same folder.
func TestDatastoreTable(t *testing.T) {
	t.Parallel()
	tab := DatastoreTable([]esxi.Filesystem{
		{VolumeName: "a:b", UUID: "u1", MountPoint: "/vmfs/volumes/u1"},
		{VolumeName: "a_b", UUID: "u2", MountPoint: "/vmfs/volumes/u2"},
		{VolumeName: "devices", UUID: "u3", MountPoint: "/vmfs/volumes/u3"},
		{UUID: "u4", MountPoint: "/vmfs/volumes/u4"},
	}, nil)
	folders := map[string]bool{}
	for _, ds := range tab {
		if folders[ds.Folder] {
			t.Errorf("folder %q given twice: %+v", ds.Folder, tab)
		}
		folders[ds.Folder] = true
	}
	if tab[2].Folder != "devices~011e39ef" {
		t.Errorf("a datastore took the devices folder: %+v", tab[2])
	}
	// The datastore whose name is storable keeps it, whichever is listed
	// first; the other is told apart by its UUID.
	for _, p := range []string{"/vmfs/volumes/u1/vm/x.vmdk", "/vmfs/volumes/a:b/vm/x.vmdk"} {
		if got := EvidencePath(p, tab); got != "a_b~bb82030d/vm/x.vmdk" {
			t.Errorf("%s -> %s", p, got)
		}
	}
	if got := EvidencePath("/vmfs/volumes/a_b/vm/x.vmdk", tab); got != "a_b/vm/x.vmdk" {
		t.Errorf("the storable name: %s", got)
	}
	if got := EvidencePath("/vmfs/volumes/u4/Mail [legacy]/x?.vmdk", tab); got != "u4/Mail [legacy]/"+EvidenceName("x?.vmdk") {
		t.Errorf("unnamed datastore: %s", got)
	}
}

// A disk in another folder or datastore goes where it is on the host, so
// a file of the same name in the VM folder is no clash.
func TestMakePlanOutsideDisk(t *testing.T) {
	t.Parallel()
	vm := testVM(1, "ds", "vm", esxi.PoweredOff)
	vm.Files = append(vm.Files,
		File{Name: "a-flat.vmdk", Path: "/vmfs/volumes/ds2/shared/a-flat.vmdk", Size: 512, Outside: true},
		File{Name: "c.vmdk", Path: "/vmfs/volumes/ds2/shared/c.vmdk", Size: 100, Outside: true})
	p := MakePlan([]*VM{vm}, PlanOptions{SinkFree: -1})
	dests := map[string]string{}
	for _, it := range p.Items {
		dests[it.Source] = it.Dest
	}
	if d := dests["/vmfs/volumes/ds2/shared/a-flat.vmdk"]; d != "ds2/shared/a-flat.vmdk" {
		t.Errorf("outside file of the VM folder's name: %q", d)
	}
	if d := dests["/vmfs/volumes/ds2/shared/c.vmdk"]; d != "ds2/shared/c.vmdk" {
		t.Errorf("outside file: %q", d)
	}
	if d := dests["/vmfs/volumes/ds/vm/a-flat.vmdk"]; d != "ds/vm/a-flat.vmdk" {
		t.Errorf("folder file: %q", d)
	}
}

// --vm matches names exactly as the host stores them, and a number that is
// a vmid selects that VM even when another VM is named like the number.
func TestSelectVMsExactNamesAndVMIDs(t *testing.T) {
	t.Parallel()
	inv := &Inventory{Host: HostInfo{Addr: "esx1"}, VMs: []*VM{
		{ID: 3, Name: "  spaced  ", Registered: true, VMX: "/vmfs/volumes/ds/a/a.vmx"},
		{ID: 4, Name: "spaced", Registered: true, VMX: "/vmfs/volumes/ds/b/b.vmx"},
		{ID: 116, Name: "3", Registered: true, VMX: "/vmfs/volumes/ds/c/c.vmx"},
		{ID: 5, Name: "Finance\nDB (prod)", Registered: true, VMX: "/vmfs/volumes/ds/f/f.vmx"},
		{Name: "old", VMX: "/vmfs/volumes/ds/old/old.vmx"},
	}, Unplaced: []UnplacedVM{{ID: 31, Reason: "vim-cmd skips it as invalid"}}}
	for _, tc := range []struct {
		arg  string
		want int // vmid; 0: an error
		is   error
		// hint is what the message offers the examiner instead (the
		// VMs they may have meant, why a VM cannot be collected): the
		// words are the product here, so they are compared as text.
		hint string
	}{
		{"  spaced  ", 3, nil, ""},
		{"spaced", 4, nil, ""},
		{"3", 3, nil, ""}, // the vmid wins over the VM named "3"
		{"116", 116, nil, ""},
		{"/vmfs/volumes/ds/c/c.vmx", 116, nil, ""},
		{"Finance\nDB (prod)", 5, nil, ""},
		{" spaced", 0, ErrNoSuchVM, `did you mean vmid 3 "  spaced  ", vmid 4 "spaced"`},
		{"117", 0, ErrNoSuchVM, `"117"`},
		{"31", 0, ErrVMNotCollectable, "vim-cmd skips it as invalid"},
		{"Finance DB (prod)", 0, ErrNoSuchVM, `the host has vmid 3 "  spaced  ", vmid 4 "spaced", vmid 116 "3", vmid 5 "Finance\nDB (prod)", "old"`},
	} {
		vms, err := SelectVMs(inv, []string{tc.arg}, false, false)
		switch {
		case tc.want == 0 && (!errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.hint)):
			t.Errorf("--vm %q: err %v, want %v naming %q", tc.arg, err, tc.is, tc.hint)
		case tc.want != 0 && (err != nil || len(vms) != 1 || vms[0].ID != tc.want):
			t.Errorf("--vm %q: %v %v, want vmid %d", tc.arg, vms, err, tc.want)
		}
	}
}

// A physical RDM of a running VM whose device vmkfstools -q could not
// name (Disk.RDM from the descriptor, Device empty): its mapping file is
// not copied as data, no LUN is planned, its descriptor is not "copied
// under snapshot", and the plan says the LUN is not collected, and why.
func TestMakePlanUnresolvedRDM(t *testing.T) {
	t.Parallel()
	vm := testVM(1, "ds", "vm", esxi.PoweredOn)
	vm.Disks[2].RDM = &esxi.RDMInfo{Passthrough: true}
	vm.Disks[2].RDMUnresolved = "vmkfstools -q exited with status 1: Failed to open disk"
	o := PlanOptions{SinkFree: -1, RDM: true}
	p := MakePlan([]*VM{vm}, o)
	p.NoteNotCollected(&Inventory{VMs: []*VM{vm}}, o)
	for _, it := range p.Items {
		switch {
		case it.Kind == KindLUN && it.Source != LUNPrefix+"vml.02":
			t.Errorf("LUN planned for an unknown device: %+v", it)
		case path.Base(it.Source) == "p-rdmp.vmdk":
			if it.Method != MethodSkip || !strings.Contains(it.Note, "NOT COLLECTED") || !strings.Contains(it.Note, "Failed to open disk") {
				t.Errorf("mapping file: %+v", it)
			}
		case path.Base(it.Source) == "p.vmdk":
			if it.Method == MethodSnapshot || !it.Live {
				t.Errorf("a physical RDM's descriptor of a running VM: %+v", it)
			}
		}
	}
	var missed []string
	for _, u := range p.NotCollected {
		if u.What == "RDM LUN" && u.Missed {
			missed = append(missed, u.Path+": "+u.Why)
		}
	}
	if len(missed) != 1 || !strings.Contains(missed[0], "/vmfs/volumes/ds/vm/p.vmdk") || !strings.Contains(missed[0], "Failed to open disk") {
		t.Errorf("not collected: %q", missed)
	}
}

// An RDM under a user snapshot: the .vmx names a delta whose parent is
// the mapping's descriptor. The mapping file is never copied as data;
// the deltas of a virtual RDM are ordinary deltas, copied under our
// snapshot with the LUN, which the delta keeps the VM from writing; a
// physical RDM stays physical whatever lies over it (no snapshot freezes
// it), so nothing of its chain is "under snapshot".
func TestMakePlanRDMUnderSnapshot(t *testing.T) {
	vm := testVM(1, "ds", "vm", esxi.PoweredOn)
	d := vm.Dir
	vm.Disks[3] = Disk{Node: "scsi0:3", Descriptor: d + "/v-000001.vmdk", CreateType: "seSparse", Extents: []string{d + "/v-000001-sesparse.vmdk"},
		Parent: d + "/v.vmdk", Chain: []Layer{{Descriptor: d + "/v.vmdk", CreateType: "vmfsRawDeviceMap", Extents: []string{d + "/v-rdm.vmdk"}}},
		RDM: &esxi.RDMInfo{Device: "vml.02"}}
	vm.Disks[2] = Disk{Node: "scsi0:2", Descriptor: d + "/p-000001.vmdk", CreateType: "seSparse", Extents: []string{d + "/p-000001-sesparse.vmdk"},
		Parent: d + "/p.vmdk", Chain: []Layer{{Descriptor: d + "/p.vmdk", CreateType: "vmfsPassthroughRawDeviceMap", Extents: []string{d + "/p-rdmp.vmdk"}}},
		RDM: &esxi.RDMInfo{Passthrough: true, Device: "vml.01"}}
	for _, n := range []string{"v.vmdk", "v-000001.vmdk", "p.vmdk", "p-000001.vmdk"} {
		vm.Files = append(vm.Files, File{Name: n, Path: d + "/" + n, Size: 500})
	}
	vm.Files = append(vm.Files, File{Name: "v-000001-sesparse.vmdk", Path: d + "/v-000001-sesparse.vmdk", Size: 8192},
		File{Name: "p-000001-sesparse.vmdk", Path: d + "/p-000001-sesparse.vmdk", Size: 8192})
	for _, rdm := range []bool{false, true} {
		o := PlanOptions{SinkFree: -1, RDM: rdm}
		p := MakePlan([]*VM{vm}, o)
		p.NoteNotCollected(&Inventory{VMs: []*VM{vm}}, o)
		got := map[string]PlanItem{}
		for _, it := range p.Items {
			got[strings.TrimPrefix(it.Source, d+"/")] = it
		}
		for name, want := range map[string]struct {
			kind, method string
			live         bool
		}{
			"v-rdm.vmdk":             {KindRDM, MethodSkip, false},
			"v.vmdk":                 {KindDescriptor, MethodSnapshot, false},
			"v-000001.vmdk":          {KindDescriptor, MethodSnapshot, false},
			"v-000001-sesparse.vmdk": {KindDelta, MethodSnapshot, false},
			"p-rdmp.vmdk":            {KindRDM, MethodSkip, false},
			"p.vmdk":                 {KindDescriptor, MethodCopy, true},
			"p-000001.vmdk":          {KindDescriptor, MethodCopy, true},
			"p-000001-sesparse.vmdk": {KindDelta, MethodCopy, true},
		} {
			if it := got[name]; it.Kind != want.kind || it.Method != want.method || it.Live != want.live {
				t.Errorf("--rdm=%v %s: %s %s live=%v (%s), want %s %s live=%v", rdm, name, it.Kind, it.Method, it.Live, it.Note, want.kind, want.method, want.live)
			}
		}
		lunV, lunP := got[LUNPrefix+"vml.02"], got[LUNPrefix+"vml.01"]
		var missing []string
		for _, u := range p.NotCollected {
			if u.What == "RDM LUN" && u.Flag == "--rdm" {
				missing = append(missing, u.Path)
			}
		}
		if rdm {
			if lunV.Method != MethodSnapshot || lunV.Live || lunV.Size != 4<<20 || lunP.Method != MethodCopy || !lunP.Live || lunP.Size != 8<<20 {
				t.Errorf("LUNs: virtual %+v, physical %+v", lunV, lunP)
			}
			if n := got["v-rdm.vmdk"].Note; !strings.Contains(n, "devices/vml.02.raw") {
				t.Errorf("the virtual mapping file's note %q does not name the LUN's image", n)
			}
			if len(missing) != 0 {
				t.Errorf("with --rdm, not collected: %q", missing)
			}
		} else if len(missing) != 2 {
			t.Errorf("without --rdm, the LUNs not collected: %q, want both", missing)
		}
	}
}

// A name the workstation stores is kept; one it cannot is made storable
// and tagged with its own hash, so names that differ only in what was
// replaced never meet, nor meet a storable name; the tag keeps the
// extension and the name within 255 bytes, and is the same every time.
func TestEvidenceName(t *testing.T) {
	for _, n := range []string{"a_b.vmdk", "Mail [legacy]-flat.vmdk", "Tom's lab $HOME", "Prüfung ü 日本.vmx"} {
		if got := EvidenceName(n); got != n {
			t.Errorf("storable %q became %q", n, got)
		}
	}
	seen := map[string]string{"a_b.vmdk": "a_b.vmdk"}
	for _, n := range []string{"a:b.vmdk", "a?b.vmdk", "a*b.vmdk", `a\b.vmdk`, "a|b.vmdk", "CON", "_CON", "name.", "name._"} {
		got := EvidenceName(n)
		if other, ok := seen[got]; ok && n != "_CON" && n != "name._" {
			t.Errorf("%q and %q both become %q", n, other, got)
		}
		seen[got] = n
		if SafeName(got) != got || got != EvidenceName(n) {
			t.Errorf("EvidenceName(%q) = %q: not storable or not the same twice", n, got)
		}
	}
	if got := EvidenceName("a:b.vmdk"); !strings.HasPrefix(got, "a_b~") || !strings.HasSuffix(got, ".vmdk") || len(got) != len("a_b~12345678.vmdk") {
		t.Errorf("a:b.vmdk -> %q, want a_b~<8 hex>.vmdk", got)
	}
	long := strings.Repeat("é", 140) + ":x.vmdk"
	if got := EvidenceName(long); len(got) > 255 || !strings.HasSuffix(got, ".vmdk") || !utf8.ValidString(got) {
		t.Errorf("long name -> %d bytes %q", len(got), got)
	}
}

// Two files of a VM folder whose names differ only in characters the
// workstation cannot store, and a third with the storable name they
// would both have had, go to three paths. A storable host name that
// equals another's tagged evidence name keeps it, whichever is planned
// first; the other is not collected, with both host paths, and the case
// is incomplete for it.
func TestMakePlanNamesNotStorable(t *testing.T) {
	vm := testVM(1, "ds", "vm", esxi.PoweredOff)
	d := vm.Dir
	for _, n := range []string{"a:b.log", "a?b.log", "a_b.log"} {
		vm.Files = append(vm.Files, File{Name: n, Path: d + "/" + n, Size: 10})
	}
	p := MakePlan([]*VM{vm}, PlanOptions{SinkFree: -1})
	dests := map[string]string{}
	for _, it := range p.Items {
		if it.Method == MethodSkip && strings.HasSuffix(it.Source, ".log") {
			t.Errorf("%s not planned: %s", it.Source, it.Note)
		}
		if other, ok := dests[it.Dest]; ok && it.Dest != "" {
			t.Errorf("%s and %s share %s", it.Source, other, it.Dest)
		}
		dests[it.Dest] = it.Source
	}
	if dests["ds/vm/a_b.log"] != d+"/a_b.log" || len(p.NotCollected) != 0 {
		t.Errorf("a_b.log is not under its own name: %v, not collected %+v", dests, p.NotCollected)
	}

	tagged := EvidenceName("a:b.log")
	for _, order := range [][]string{{"a:b.log", tagged}, {tagged, "a:b.log"}} {
		vm := testVM(1, "ds", "vm", esxi.PoweredOff)
		for _, n := range order {
			vm.Files = append(vm.Files, File{Name: n, Path: d + "/" + n, Size: 10})
		}
		p := MakePlan([]*VM{vm}, PlanOptions{SinkFree: -1})
		var files int
		for _, it := range p.Items {
			if it.Method != MethodSkip {
				files++
			}
			switch it.Source {
			case d + "/" + tagged:
				if it.Method == MethodSkip || it.Dest != "ds/vm/"+tagged {
					t.Errorf("order %q: the file named %s: %+v", order, tagged, it)
				}
			case d + "/a:b.log":
				if it.Method != MethodSkip || !strings.HasPrefix(it.Note, "NOT COLLECTED") {
					t.Errorf("order %q: a:b.log: %+v", order, it)
				}
			}
		}
		if files != p.Files {
			t.Errorf("order %q: %d files planned, the plan counts %d", order, files, p.Files)
		}
		if len(p.NotCollected) != 1 || !p.NotCollected[0].Missed || p.NotCollected[0].Path != d+"/a:b.log" ||
			!strings.Contains(p.NotCollected[0].Why, d+"/"+tagged) || !strings.Contains(p.NotCollected[0].Why, d+"/a:b.log") {
			t.Errorf("order %q: not collected %+v", order, p.NotCollected)
		}
	}
}

// Two hosts' own datastore1 (different UUIDs) get a folder each, tagged
// with their UUIDs, whatever order the hosts come in; a Datastore1 that
// differs only in case clashes too (a case-insensitive disk); a datastore
// an earlier run recorded keeps its folder, and the newcomer of the same
// name is the one tagged.
func TestDatastoreFolders(t *testing.T) {
	t.Parallel()
	const uA, uB = "5f1e2d3c-0a1b2c3d-4e5f-001122334455", "5f1e2d3c-99887766-4e5f-66778899aabb"
	a := custody.Datastore{Name: "datastore1", UUID: uA}
	b := custody.Datastore{Name: "datastore1", UUID: uB}
	shared := custody.Datastore{Name: "shared-vmfs01", UUID: "u-shared"}
	want := map[string]string{uA: "datastore1~0bfae4fe", uB: "datastore1~5dddb70b", "u-shared": "shared-vmfs01"}
	for _, order := range [][]custody.Datastore{{a, shared, b, shared}, {b, shared, a}} {
		if got := DatastoreFolders(nil, order); !maps.Equal(got, want) {
			t.Errorf("order %v: %v, want %v", order, got, want)
		}
	}
	upper := custody.Datastore{Name: "Datastore1", UUID: uB}
	if got := DatastoreFolders(nil, []custody.Datastore{a, upper}); got[uA] != "datastore1~0bfae4fe" || got[uB] != "Datastore1~5dddb70b" {
		t.Errorf("names that differ in case only: %v", got)
	}
	// A later run into the case: esx-a's datastore1 went to datastore1
	// before esx-b joined; it stays there.
	earlier := []custody.Datastore{{Name: "datastore1", UUID: uA, Folder: "datastore1"}}
	if got := DatastoreFolders(earlier, []custody.Datastore{b, a}); got[uA] != "datastore1" || got[uB] != "datastore1~5dddb70b" {
		t.Errorf("with an earlier run: %v", got)
	}
	// One host alone keeps plain names.
	if got := DatastoreFolders(nil, []custody.Datastore{a, shared}); got[uA] != "datastore1" {
		t.Errorf("no clash, yet %v", got)
	}
	// Should the 8 digits of two tags agree, more digits tell them apart.
	if got := tagName("datastore1", "", uA, func(f string) bool { return f == "datastore1~0bfae4fe" }); got != "datastore1~0bfae4fe5fcf724e" {
		t.Errorf("a taken tag: %s", got)
	}
	// Through a plan: the same VM path on both hosts lands in two folders.
	pa := MakePlan(nil, PlanOptions{Datastores: []esxi.Filesystem{{VolumeName: "datastore1", UUID: uA, MountPoint: "/vmfs/volumes/" + uA}}, Folders: want})
	pb := MakePlan(nil, PlanOptions{Datastores: []esxi.Filesystem{{VolumeName: "datastore1", UUID: uB, MountPoint: "/vmfs/volumes/" + uB}}, Folders: want})
	da, db := EvidencePath("/vmfs/volumes/datastore1/VM/VM-flat.vmdk", pa.Datastores), EvidencePath("/vmfs/volumes/"+uB+"/VM/VM-flat.vmdk", pb.Datastores)
	if da != "datastore1~0bfae4fe/VM/VM-flat.vmdk" || db != "datastore1~5dddb70b/VM/VM-flat.vmdk" {
		t.Errorf("evidence paths %s and %s", da, db)
	}
}
