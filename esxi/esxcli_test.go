package esxi

import (
	"slices"
	"testing"
)

func TestRecordGet(t *testing.T) {
	t.Parallel()
	r := Record{"Mount Point": "/vmfs/volumes/x", "isPE": "false", "Read-Only": "true"}
	for _, tc := range []struct{ field, want string }{
		{"MountPoint", "/vmfs/volumes/x"},
		{"mount point", "/vmfs/volumes/x"},
		{"IsPE", "false"},
		{"ReadOnly", "true"},
		{"Missing", ""},
	} {
		if got := r.Get(tc.field); got != tc.want {
			t.Errorf("Get(%q) = %q, want %q", tc.field, got, tc.want)
		}
	}
	if _, ok := r.Lookup("Size"); ok {
		t.Error("Lookup found a missing field")
	}
}

func TestParseCSV(t *testing.T) {
	t.Parallel()
	recs, err := ParseCSV(fixture(t, "esxcli-vm-process-list.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || len(recs[0]) != 6 {
		t.Fatalf("%d records of %d fields, want 2 of 6 (the trailing comma adds none)", len(recs), len(recs[0]))
	}
	if got := recs[1]["DisplayName"]; got != `Finance, "Q3"` {
		t.Errorf("quoted field with comma and quotes: %q", got)
	}
	for _, tc := range []struct {
		name, in string
		line     int
	}{
		{"short row", "A,B,\n1,2,\n3,\n", 3},
		{"long row", "A,B,\n1,2,3,\n", 2},
		{"unnamed column", "A,,B,\n1,2,3,\n", 1},
		{"repeated column", "A,a,\n1,2,\n", 1},
		{"bad quote", "A,\n\"x,\n", 2},
	} {
		_, err := ParseCSV(tc.in)
		pe, ok := err.(*ParseError)
		if !ok || pe.Line != tc.line {
			t.Errorf("%s: %v, want a ParseError on line %d", tc.name, err, tc.line)
		}
	}
	if recs, err := ParseCSV(""); err != nil || recs != nil {
		t.Errorf("empty output: %v, %v", recs, err)
	}
	if recs, err := ParseCSV("A,B,\n"); err != nil || len(recs) != 0 {
		t.Errorf("header only: %v, %v", recs, err)
	}
}

func TestVMProcesses(t *testing.T) {
	t.Parallel()
	want := []VMProcess{
		{"mail-gw", "/vmfs/volumes/61a0c2f1-0b3e55d2-77aa-0025b5aa0001/mail-gw/mail-gw.vmx", 210042, 0, 210041, "56 4d 01 02 03 04 05 06-07 08 09 0a 0b 0c 0d 0e"},
	}
	for _, tc := range []struct {
		name   string
		parse  func(string) ([]Record, error)
		file   string
		second string
	}{
		{"csv", ParseCSV, "esxcli-vm-process-list.csv", `Finance, "Q3"`},
		{"text", ParseEsxcliText, "esxcli-vm-process-list.txt", "Ops: build box"},
	} {
		recs, err := tc.parse(fixture(t, tc.file))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ps, err := VMProcesses(recs)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(ps) != 2 || ps[0] != want[0] || ps[1].DisplayName != tc.second || ps[1].WorldID != 210078 {
			t.Errorf("%s: %+v", tc.name, ps)
		}
	}
	recs, err := ParseXML(fixture(t, "esxcli-vm-process-list.xml"))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := VMProcesses(recs)
	if err != nil || len(ps) != 1 || ps[0].DisplayName != "a & b" || ps[0].WorldID != 300002 ||
		ps[0].ConfigFile != "/vmfs/volumes/61a0c2f1-0b3e55d2-77aa-0025b5aa0001/a & b/a & b.vmx" {
		t.Errorf("xml: %+v, %v", ps, err)
	}
	if recs[0]["Tags"] != "x,y" || recs[0]["Nested"] != "" {
		t.Errorf("xml list/nested fields: %q %q", recs[0]["Tags"], recs[0]["Nested"])
	}
	if _, err := VMProcesses([]Record{{"World ID": "12"}}); err == nil {
		t.Error("record without Config File accepted")
	}
	if _, err := VMProcesses([]Record{{"World ID": "x", "Config File": "/a"}}); err == nil {
		t.Error("non-numeric World ID accepted")
	}
}

func TestFilesystems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		parse func(string) ([]Record, error)
		file  string
	}{
		{"csv", ParseCSV, "esxcli-filesystem-list.csv"},
		{"text", ParseEsxcliText, "esxcli-filesystem-list.txt"},
	} {
		recs, err := tc.parse(fixture(t, tc.file))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		fs, err := Filesystems(recs)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(fs) != 3 {
			t.Fatalf("%s: %d filesystems", tc.name, len(fs))
		}
		want0 := Filesystem{"/vmfs/volumes/61a0c2f1-0b3e55d2-77aa-0025b5aa0001", "ssd-store", "61a0c2f1-0b3e55d2-77aa-0025b5aa0001", true, "VMFS-6", 999653638144, 402653184000}
		if fs[0] != want0 {
			t.Errorf("%s: %+v", tc.name, fs[0])
		}
		if fs[1].VolumeName != "" || fs[1].Type != "vfat" || fs[1].Free != 1071644672 {
			t.Errorf("%s: empty volume name row: %+v", tc.name, fs[1])
		}
		if fs[2].Type != "NFS" || fs[2].VolumeName == "" {
			t.Errorf("%s: %+v", tc.name, fs[2])
		}
	}
}

func TestNFSVolumes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		parse func(string) ([]Record, error)
		file  string
	}{
		{"csv", ParseCSV, "esxcli-nfs-list.csv"},
		{"text", ParseEsxcliText, "esxcli-nfs-list.txt"},
	} {
		recs, err := tc.parse(fixture(t, tc.file))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		vs, err := NFSVolumes(recs)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(vs) != 2 || vs[0].VolumeName != "esxsink-case42" || vs[0].Host != "10.20.30.40" || vs[0].Share != "/cases/42" ||
			!vs[0].Mounted || !vs[0].Accessible || vs[0].ReadOnly == nil || *vs[0].ReadOnly {
			t.Errorf("%s: %+v", tc.name, vs)
		}
		if vs[1].VolumeName != "iso library" || vs[1].Mounted || vs[1].ReadOnly == nil || !*vs[1].ReadOnly {
			t.Errorf("%s: second: %+v", tc.name, vs[1])
		}
	}
	// 5.x: no Read-Only column.
	vs, err := NFSVolumes([]Record{{"Volume Name": "v", "Host": "h", "Share": "/s", "Mounted": "true"}})
	if err != nil || vs[0].ReadOnly != nil || vs[0].IsPE != nil {
		t.Errorf("no Read-Only column: %+v, %v", vs, err)
	}
	if _, err := NFSVolumes([]Record{{"Volume Name": "v", "Host": "h", "Share": "/s", "Mounted": "yes"}}); err == nil {
		t.Error("Mounted \"yes\" accepted")
	}
}

func TestCoreDevices(t *testing.T) {
	t.Parallel()
	recs, err := ParseCSV(fixture(t, "esxcli-core-device-list.csv"))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := CoreDevices(recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Device != "naa.600a0b8000aa00bb000000005e2f0c11" || ds[0].SizeMB != 512000 || !ds[0].IsRDMCapable ||
		!slices.Equal(ds[0].OtherUIDs, []string{"vml.0200070000600a0b8000aa00bb000000005e2f0c11455649444e"}) {
		t.Errorf("%+v", ds[0])
	}
	if ds[1].IsUSB == nil || !*ds[1].IsUSB || ds[1].IsBootDevice == nil || !*ds[1].IsBootDevice || ds[1].DevfsPath != "/vmfs/devices/disks/mpx.vmhba32:C0:T0:L0" {
		t.Errorf("%+v", ds[1])
	}
	if _, err := CoreDevices([]Record{{"Size": "1"}}); err == nil {
		t.Error("device without a name accepted")
	}
}

func TestSystemVersionAndHostname(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		parse func(string) ([]Record, error)
		file  string
		want  HostVersion
	}{
		{"csv", ParseCSV, "esxcli-system-version-get.csv", HostVersion{"VMware ESXi", "7.0.3", 7, 0, 3, 21203435, 3, 15}},
		{"text", ParseEsxcliText, "esxcli-system-version-get.txt", HostVersion{"VMware ESXi", "6.7.0", 6, 7, 0, 17700523, 3, 135}},
		{"keyvalue", ParseKeyValue, "esxcli-system-version-get.kv", HostVersion{"VMware ESXi", "8.0.2", 8, 0, 2, 22380479, 2, 0}},
	} {
		recs, err := tc.parse(fixture(t, tc.file))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		v, err := SystemVersion(recs)
		if err != nil || v != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, v, err, tc.want)
		}
	}
	if _, err := SystemVersion([]Record{{"Product": "VMware ESXi", "Version": "7.0.3", "Build": "Releasebuild-x"}}); err == nil {
		t.Error("build without a number accepted")
	}
	if _, err := SystemVersion(nil); err == nil {
		t.Error("no record accepted")
	}

	recs, err := ParseCSV(fixture(t, "esxcli-system-hostname-get.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if h, err := SystemHostname(recs); err != nil || h != (Hostname{"esx-evidence-01", "lab.example", "esx-evidence-01.lab.example"}) {
		t.Errorf("csv hostname %+v, %v", h, err)
	}
	recs, err = ParseEsxcliText(fixture(t, "esxcli-system-hostname-get.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if h, err := SystemHostname(recs); err != nil || h != (Hostname{"esx-evidence-02", "", "esx-evidence-02"}) {
		t.Errorf("text hostname %+v, %v", h, err)
	}
}

func TestParseEsxcliTextErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		line     int
	}{
		{"row cut short", "A     B\n----  ----\nx     y\nz\n", 4},
		{"value runs into the gap", "A     B\n----  ----\nxxxxxxy\n", 3},
		{"field without colon", "title\n   no colon here\n", 2},
		{"repeated field", "   A: 1\n   A: 2\n", 2},
	} {
		_, err := ParseEsxcliText(tc.in)
		pe, ok := err.(*ParseError)
		if !ok || pe.Line != tc.line {
			t.Errorf("%s: %v, want a ParseError on line %d", tc.name, err, tc.line)
		}
	}
	if recs, err := ParseEsxcliText("\n \n"); err != nil || recs != nil {
		t.Errorf("blank output: %v %v", recs, err)
	}
}

func TestParseKeyValueAndXMLErrors(t *testing.T) {
	t.Parallel()
	recs, err := ParseKeyValue("S.A.string=1\nS.L.string[]=x\nS.L.string[]=y\nS.A.string=2\n\nS.A.string=3\n")
	if err != nil || len(recs) != 3 || recs[0]["L"] != "x,y" || recs[1]["A"] != "2" || recs[2]["A"] != "3" {
		t.Errorf("keyvalue records %v, %v", recs, err)
	}
	for _, in := range []string{"noequals\n", "A=1\n", "A.B=1\n", "A..b=1\n"} {
		if _, err := ParseKeyValue(in); err == nil {
			t.Errorf("ParseKeyValue(%q) accepted", in)
		}
	}
	for _, in := range []string{"<output><structure><field name=\"a\"><string>x", "<output></list>"} {
		if _, err := ParseXML(in); err == nil {
			t.Errorf("ParseXML(%q) accepted", in)
		}
	}
}
