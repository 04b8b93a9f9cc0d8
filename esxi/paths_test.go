package esxi

import (
	"errors"
	"testing"
)

func TestFileKindOf(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"web-flat.vmdk": FileExtent, "WEB-FLAT.VMDK": FileExtent, "web-000001-delta.vmdk": FileDelta,
		"web-000001-sesparse.vmdk": FileDelta, "web.vmdk": FileDescriptor, "web-rdmp.vmdk": FileDescriptor,
		"web.vmx.lck": FileLock, "web-1a2b.vswp": FileSwap, "web-Snapshot1.vmsn": FileSnapshot,
		"web-Snapshot1.vmem": FileMemory, "web.vmss": FileSuspend, "vmware-1.log": FileLog,
		"web.vmx": FileConfig, "web.vmsd": FileConfig, "web.vmxf": FileConfig, "web.nvram": FileConfig,
		"notes.txt": FileOther, "": FileOther, "vmdk": FileOther,
	} {
		if got := FileKindOf(name); got != want {
			t.Errorf("FileKindOf(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestDatastoreHostPath(t *testing.T) {
	t.Parallel()
	stores := []Filesystem{{VolumeName: "Old SAN [LUN 5]"}, {VolumeName: "a]b"}, {VolumeName: "ds1"}, {UUID: "5f0c-vfat"}}
	for in, want := range map[string]string{
		"[ds1] web/web.vmx":            "/vmfs/volumes/ds1/web/web.vmx",
		"[Old SAN [LUN 5]] vm/vm.vmx":  "/vmfs/volumes/Old SAN [LUN 5]/vm/vm.vmx",
		"[a]b] x/x.vmx":                "/vmfs/volumes/a]b/x/x.vmx",
		"[other] y/y.vmx":              "/vmfs/volumes/other/y/y.vmx",
		"[ds1] name with ] inside.vmx": "/vmfs/volumes/ds1/name with ] inside.vmx",
	} {
		got, err := DatastoreHostPath(in, stores)
		if err != nil || got != want {
			t.Errorf("DatastoreHostPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	var pe *ParseError
	if _, err := DatastoreHostPath("/vmfs/volumes/ds1/x.vmx", stores); !errors.As(err, &pe) {
		t.Errorf("a path without [datastore]: %v, want a *ParseError", err)
	}
}

func TestVolumePaths(t *testing.T) {
	t.Parallel()
	if got := VolumePath("ds1", "a/b.vmdk"); got != "/vmfs/volumes/ds1/a/b.vmdk" {
		t.Errorf("VolumePath = %q", got)
	}
	if got := VolumePath("ds1", ""); got != "/vmfs/volumes/ds1" {
		t.Errorf("VolumePath root = %q", got)
	}
	for in, want := range map[string][3]string{
		"/vmfs/volumes/ds1/a/b.vmdk": {"ds1", "a/b.vmdk", "true"},
		"/vmfs/volumes/ds1":          {"ds1", "", "true"},
		"/vmfs/devices/disks/naa.1":  {"", "", "false"},
		"/vmfs/volumesX/ds1":         {"", "", "false"},
	} {
		ds, rel, ok := SplitVolumePath(in)
		if ds != want[0] || rel != want[1] || (ok != (want[2] == "true")) {
			t.Errorf("SplitVolumePath(%q) = %q %q %v", in, ds, rel, ok)
		}
	}
	stores := []Filesystem{{VolumeName: "ds1", UUID: "5f0c", MountPoint: "/vmfs/volumes/5f0c"}, {UUID: "nolabel"}}
	for in, want := range map[string]string{
		"/vmfs/volumes/5f0c/web/web.vmx": "/vmfs/volumes/ds1/web/web.vmx",
		"/vmfs/volumes/ds1/web/web.vmx":  "/vmfs/volumes/ds1/web/web.vmx",
		"/vmfs/volumes/5f0cX/web.vmx":    "/vmfs/volumes/5f0cX/web.vmx",
		"/vmfs/volumes/nolabel/x.vmx":    "/vmfs/volumes/nolabel/x.vmx",
	} {
		if got := CanonicalHostPath(in, stores); got != want {
			t.Errorf("CanonicalHostPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// A disk named by a .vmx or a descriptor in any of the ways ESXi writes
// it resolves to one path, the datastore by its label.
func TestDiskHostPath(t *testing.T) {
	t.Parallel()
	stores := []Filesystem{{VolumeName: "ds 1", UUID: "5f0c", MountPoint: "/vmfs/volumes/5f0c"}, {VolumeName: "ds2", UUID: "6a1d", MountPoint: "/vmfs/volumes/6a1d"}}
	vm := "/vmfs/volumes/ds 1/vm"
	for name, want := range map[string]string{
		"vm.vmdk":                          "/vmfs/volumes/ds 1/vm/vm.vmdk",
		"../shared/x.vmdk":                 "/vmfs/volumes/ds 1/shared/x.vmdk",
		"/vmfs/volumes/5f0c/shared/x.vmdk": "/vmfs/volumes/ds 1/shared/x.vmdk",
		"/vmfs/volumes/6a1d/store/y.vmdk":  "/vmfs/volumes/ds2/store/y.vmdk",
		"/vmfs/volumes/ds2/./store/y.vmdk": "/vmfs/volumes/ds2/store/y.vmdk",
		"../../6a1d/store/y.vmdk":          "/vmfs/volumes/ds2/store/y.vmdk",
		"":                                 "",
	} {
		if got := DiskHostPath(vm, name, stores); got != want {
			t.Errorf("DiskHostPath(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestNASTool(t *testing.T) {
	t.Parallel()
	if NASEsxcfg.CmdList() != CmdNASList() {
		t.Errorf("esxcfg-nas list: %q", NASEsxcfg.CmdList())
	}
	csv := "Volume Name,Host,Share,Accessible,Mounted,Read-Only,isPE,Hardware Acceleration\n" +
		"esxsink-0a1b2c3d,10.0.0.5,/esxsink,true,true,false,false,Not Supported\n" +
		"old,10.0.0.9,/x,false,false,false,false,Not Supported\n"
	mounts, err := NASEsxcli.ParseList(csv)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := FindNASMount(mounts, "esxsink-0a1b2c3d")
	if !ok || !m.Mounted || !m.Available || m.Host != "10.0.0.5" || m.Share != "/esxsink" || m.Status != "mounted available" {
		t.Errorf("esxcli mount: %+v %v", m, ok)
	}
	if m, _ := FindNASMount(mounts, "old"); m.Mounted || m.Status != "unmounted" {
		t.Errorf("esxcli unmounted: %+v", m)
	}
	if err := NASEsxcli.CheckAdd(" \n", "x"); err != nil {
		t.Errorf("quiet esxcli add: %v", err)
	}
	if err := NASEsxcli.CheckRemove("Something odd happened\n", "x"); err == nil {
		t.Error("esxcli remove printing something unknown passed")
	}
}
