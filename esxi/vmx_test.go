package esxi

import (
	"slices"
	"testing"
	"time"
)

func TestParseVMX(t *testing.T) {
	t.Parallel()
	v, err := ParseVMX([]byte(fixture(t, "evidence-vm.vmx")))
	if err != nil {
		t.Fatal(err)
	}
	if v.DisplayName != `Finance "Q3" | ledger [old]` {
		t.Errorf("displayName with |22 and |7C: %q", v.DisplayName)
	}
	// memsize is given twice in different case: one key, the last wins.
	if v.MemSizeMB != 16384 || !slices.Equal(v.Dict.Repeated(), []string{"memsize"}) {
		t.Errorf("memSize %d, repeated %q", v.MemSizeMB, v.Dict.Repeated())
	}
	if v.HWVersion != 19 || v.NumVCPUs != 4 || v.GuestOS != "windows2019srv-64" || v.Encoding != "UTF-8" ||
		v.NVRAM != "Finance Q3.nvram" || v.WorkingDir != "." || v.Encrypted || len(v.Warnings) != 0 {
		t.Errorf("%+v", v)
	}
	if v.SwapDerivedName != "/vmfs/volumes/61a0c2f1-0b3e55d2-77aa-0025b5aa0001/Finance Q3/Finance Q3-1a2b3c4d.vswp" {
		t.Errorf("swap %q", v.SwapDerivedName)
	}
	if got := v.Dict.String("annotation"); got != "pipe | bar\nsecond line| end |zz kept" {
		t.Errorf("escapes: %q", got)
	}
	if got := v.Dict.String("guestinfo.note"); got != "unquoted-value" {
		t.Errorf("bare value: %q", got)
	}
	if !v.Present("ethernet0") || v.Present("floppy0") || v.Present("serial0") {
		t.Error("Present")
	}

	var nodes []string
	for _, d := range v.Devices {
		nodes = append(nodes, d.Node)
	}
	if want := []string{"scsi0:0", "scsi0:1", "scsi0:2", "scsi0:3", "scsi1:0", "scsi2:0", "sata0:0", "nvme0:0", "ide1:0"}; !slices.Equal(nodes, want) {
		t.Errorf("devices %q\n want %q", nodes, want)
	}
	disks := v.Disks()
	want := []Device{
		{"scsi0:0", BusSCSI, 0, 0, KindDisk, "scsi-hardDisk", "Finance Q3-000002.vmdk", "", true, true},
		{"scsi0:1", BusSCSI, 0, 1, KindDisk, "", "data/Finance Q3_1.vmdk", "independent-persistent", true, true},
		{"scsi0:2", BusSCSI, 0, 2, KindDisk, "", "/vmfs/volumes/61a0c2f1-0b3e55d2-77aa-0025b5aa0001/rdm/lun7.vmdk", "independent-nonpersistent", true, true},
		{"nvme0:0", BusNVMe, 0, 0, KindDisk, "", "Finance Q3_2.vmdk", "", true, true},
	}
	if !slices.Equal(disks, want) {
		t.Errorf("disks\n got %+v\nwant %+v", disks, want)
	}
	if !disks[1].Independent() || !disks[2].Independent() || disks[0].Independent() {
		t.Error("Independent")
	}
	const dir = "/vmfs/volumes/ssd/Finance Q3/"
	if disks[1].HostPath(dir) != "/vmfs/volumes/ssd/Finance Q3/data/Finance Q3_1.vmdk" || disks[2].HostPath(dir) != disks[2].FileName {
		t.Errorf("HostPath %q %q", disks[1].HostPath(dir), disks[2].HostPath(dir))
	}
	// Not active: a detached slot and a disk on a controller that is off.
	for _, d := range v.Devices {
		switch d.Node {
		case "scsi0:3":
			if d.Active() || d.Kind != KindDisk {
				t.Errorf("detached disk %+v", d)
			}
		case "scsi1:0":
			if d.Active() || d.ControllerPresent {
				t.Errorf("disk on an absent controller %+v", d)
			}
		case "scsi2:0":
			if d.Kind != KindPassthrough {
				t.Errorf("tape %+v", d)
			}
		}
	}
	cds := v.CDROMs()
	if len(cds) != 2 || cds[0].Node != "sata0:0" || cds[1].Node != "ide1:0" || !cds[1].ControllerPresent {
		t.Errorf("CD-ROMs %+v", cds)
	}
}

func TestParseDict(t *testing.T) {
	t.Parallel()
	d, err := ParseDict("x", []byte("#!/usr/bin/vmware\r\nA.b = \"1\" # trailing comment\r\n\r\nempty = \"\"\nbar = \"a|7c|7Cb|\"\nhex = \"|4|41\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ k, want string }{
		{"a.B", "1"}, {"empty", ""}, {"bar", "a||b|"}, {"hex", "|4A"},
	} {
		if got, ok := d.Get(tc.k); !ok || got != tc.want {
			t.Errorf("%s = %q (%v), want %q", tc.k, got, ok, tc.want)
		}
	}
	if d.Line("A.B") != 2 || len(d.Entries) != 4 {
		t.Errorf("line %d, %d entries", d.Line("A.B"), len(d.Entries))
	}
	for _, tc := range []struct {
		in   string
		line int
	}{
		{"a = \"1\"\nno equals sign\n", 2},
		{"a = \"unterminated\n", 1},
		{"a = \"x\" junk\n", 1},
		{"a b = \"x\"\n", 1},
		{" = \"x\"\n", 1},
		{"a = x\"y\n", 1},
		{"a = \"x\x00\"\n", 1},
	} {
		_, err := ParseDict("t", []byte(tc.in))
		pe, ok := err.(*ParseError)
		if !ok || pe.Line != tc.line {
			t.Errorf("ParseDict(%q): %v, want a ParseError on line %d", tc.in, err, tc.line)
		}
	}
	for _, tc := range []struct {
		v         string
		value, ok bool
	}{{"TRUE", true, true}, {"false", false, true}, {"yes", true, true}, {"0", false, true}, {"maybe", false, false}} {
		d, _ := ParseDict("t", []byte("k = \""+tc.v+"\"\n"))
		if v, ok := d.Bool("K"); v != tc.value || ok != tc.ok {
			t.Errorf("Bool(%q) = %v %v", tc.v, v, ok)
		}
	}
}

func TestVMXWarnings(t *testing.T) {
	t.Parallel()
	v, err := ParseVMX([]byte("memSize = \"lots\"\nencryption.keySafe = \"vmware:key/list/(pair/...)\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v.MemSizeMB != 0 || len(v.Warnings) != 1 || !v.Encrypted {
		t.Errorf("%+v", v)
	}
}

func TestParseVMSD(t *testing.T) {
	t.Parallel()
	v, err := ParseVMSD([]byte(fixture(t, "evidence-vm.vmsd")))
	if err != nil {
		t.Fatal(err)
	}
	if v.LastUID != 3 || v.CurrentUID != 3 || v.NumSnapshots != 2 || v.NeedConsolidate || len(v.Warnings) != 0 || len(v.Snapshots) != 2 {
		t.Fatalf("%+v", v)
	}
	s0, s1 := v.Snapshots[0], v.Snapshots[1]
	if s0.UID != 1 || s0.ParentUID != 0 || s0.DisplayName != "before patch" || s0.Description != `baseline "clean"` ||
		s0.FileName != "Finance Q3-Snapshot1.vmsn" || s0.Type != "1" || s0.NumDisks != 2 ||
		!s0.CreateTime.Equal(time.Unix(1698546436, 733568000)) {
		t.Errorf("snapshot0 %+v", s0)
	}
	if !slices.Equal(s0.Disks, []VMSDDisk{{0, "Finance Q3.vmdk", "scsi0:0"}, {1, "Finance Q3_2.vmdk", "nvme0:0"}}) {
		t.Errorf("snapshot0 disks %+v", s0.Disks)
	}
	if s1.UID != 3 || s1.ParentUID != 1 || !s1.CreateTime.Equal(time.Unix(1698659565, 580345000)) {
		t.Errorf("snapshot1 %+v", s1)
	}
	if v.ByUID(3) == nil || v.ByUID(3).DisplayName != "esxsink-case42" || v.ByUID(2) != nil || len(v.ByName("before patch")) != 1 {
		t.Error("lookups")
	}

	empty, err := ParseVMSD([]byte(fixture(t, "empty.vmsd")))
	if err != nil || len(empty.Snapshots) != 0 || len(empty.Warnings) != 0 {
		t.Errorf("empty .vmsd: %+v, %v", empty, err)
	}

	bad, err := ParseVMSD([]byte("snapshot.numSnapshots = \"2\"\nsnapshot.current = \"9\"\nsnapshot0.uid = \"1\"\nsnapshot0.parent = \"5\"\nsnapshot0.numDisks = \"1\"\n"))
	if err != nil || len(bad.Warnings) != 4 {
		t.Errorf("inconsistent .vmsd: %q, %v; want 4 warnings (count, current, parent, disks)", bad.Warnings, err)
	}
	_, err = ParseVMSD([]byte("snapshot0.uid = \"1\"\nsnapshot0.createTimeLow = \"noon\"\n"))
	if pe, ok := err.(*ParseError); !ok || pe.Line != 2 {
		t.Errorf("bad number: %v, want a ParseError on line 2", err)
	}
}
