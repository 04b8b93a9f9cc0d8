package esxi

import (
	"errors"
	"slices"
	"testing"
)

func TestParseNASList(t *testing.T) {
	t.Parallel()
	ms, err := ParseNASList(fixture(t, "esxcfg-nas-l.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []NASMount{
		{"esxsink-case42", "/cases/42", "10.20.30.40", true, true, "mounted available"},
		{"iso library", "/export/iso images", "nas.lab.example", false, false, "unmounted unavailable"},
		{"old-backup", "/vol/bk", "192.0.2.7", false, false, ""},
	}
	if !slices.Equal(ms, want) {
		t.Errorf("\n got %+v\nwant %+v", ms, want)
	}
	if m, ok := FindNASMount(ms, "iso library"); !ok || m.Host != "nas.lab.example" {
		t.Errorf("FindNASMount: %+v %v", m, ok)
	}
	if _, ok := FindNASMount(ms, "nope"); ok {
		t.Error("FindNASMount found a missing label")
	}
	if ms, err := ParseNASList("No NAS datastore found\n"); err != nil || len(ms) != 0 {
		t.Errorf("empty list: %v %v", ms, err)
	}
	if _, err := ParseNASList("x is relative from h mounted\n"); err == nil {
		t.Error("share without a leading / accepted")
	}
}

func TestCheckNAS(t *testing.T) {
	t.Parallel()
	const label = "esxsink case42"
	if err := CheckNASAdd("Connecting to NAS volume: "+label+"\n"+label+" created and connected.\n", label); err != nil {
		t.Error(err)
	}
	if err := CheckNASAdd("Connecting to NAS volume: other\nother created and connected.\n", label); err == nil {
		t.Error("another label's success accepted")
	}
	err := CheckNASAdd("Connecting to NAS volume: "+label+"\nError performing operation: NFS Error: Unable to connect to NFS server.\n", label)
	var he *HostError
	if !errors.Is(err, ErrNFSMount) || !errors.As(err, &he) || he.Name != "VMK_NFS_CONNECT_FAILURE" {
		t.Errorf("mount failure: %v", err)
	}
	if err := CheckNASRemove("NAS volume "+label+" deleted.\n", label); err != nil {
		t.Error(err)
	}
	if err := CheckNASRemove("Error performing operation: NFS Error: Unable to Unmount filesystem: Busy.\n", label); !errors.Is(err, ErrUnmountBusy) {
		t.Errorf("busy unmount: %v", err)
	}
}

func TestParseVmkfstoolsQuery(t *testing.T) {
	t.Parallel()
	info, err := ParseVmkfstoolsQuery("Disk /vmfs/volumes/ds/vm/lun 7.vmdk is a Passthrough Raw Device Mapping\nMaps to: vml.0200070000600a0b80\n")
	if err != nil || info != (RDMInfo{"/vmfs/volumes/ds/vm/lun 7.vmdk", true, "vml.0200070000600a0b80"}) {
		t.Errorf("%+v, %v", info, err)
	}
	info, err = ParseVmkfstoolsQuery("Disk a.vmdk is a Non-passthrough Raw Device Mapping\nMaps to: vml.01\nDisk Id: vml.01\n")
	if err != nil || info.Passthrough || info.Device != "vml.01" {
		t.Errorf("virtual RDM: %+v, %v", info, err)
	}
	if _, err := ParseVmkfstoolsQuery("Disk a.vmdk is not a Raw Device Mapping\n"); !errors.Is(err, ErrNotRDM) {
		t.Errorf("not an RDM: %v", err)
	}
	for _, in := range []string{"", "Maps to: vml.01\n", "Disk a.vmdk is a Passthrough Raw Device Mapping\n"} {
		if _, err := ParseVmkfstoolsQuery(in); err == nil {
			t.Errorf("ParseVmkfstoolsQuery(%q) accepted", in)
		}
	}
}

func TestParseLsusb(t *testing.T) {
	t.Parallel()
	ds, err := ParseLsusb(fixture(t, "lsusb.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 4 || ds[2] != (USBDevice{1, 4, 0x0781, 0x5583, "SanDisk Corp. Ultra Fit"}) || ds[3].Description != "" {
		t.Errorf("%+v", ds)
	}
	var hubs int
	for _, d := range ds {
		if d.IsRootHub() {
			hubs++
		}
	}
	if hubs != 2 {
		t.Errorf("%d root hubs, want 2", hubs)
	}
	if _, err := ParseLsusb("Bus 1 Device: ID x\n"); err == nil {
		t.Error("malformed line accepted")
	}
}

func TestParseVMwareVersion(t *testing.T) {
	t.Parallel()
	v, err := ParseVMwareVersion(fixture(t, "vmware-vl.txt"))
	if err != nil || v != (HostVersion{"VMware ESXi", "8.0.2", 8, 0, 2, 22380479, 2, -1}) {
		t.Errorf("%+v, %v", v, err)
	}
	if !v.AtLeast(8, 0) || !v.AtLeast(7, 9) || v.AtLeast(8, 1) {
		t.Error("AtLeast")
	}
	v, err = ParseVMwareVersion("VMware ESXi 7.0 GA\n")
	if err != nil || v.Update != 0 || v.Minor != 0 || v.Build != 0 {
		t.Errorf("GA: %+v, %v", v, err)
	}
	for _, in := range []string{"", "VMware ESXi\n", "VMware ESXi 7.0.3 build-1\nVMware ESXi 6.7.0 Update 3\n", "sh: vmware: not found\n"} {
		if _, err := ParseVMwareVersion(in); err == nil {
			t.Errorf("ParseVMwareVersion(%q) accepted", in)
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	if err := Classify("Retrieved runtime info\nPowered on\n"); err != nil {
		t.Errorf("ordinary output classified: %v", err)
	}
	for _, tc := range []struct {
		out  string
		kind error
		name string
	}{
		{"Error performing operation: NFS Error: Unable to Unmount filesystem: Busy.", ErrUnmountBusy, ""},
		{"cp: can't open '/vmfs/volumes/ds/vm/vm-000001-sesparse.vmdk': Device or resource busy", ErrDeviceBusy, ""},
		{`Unable to find a VM corresponding to "41"`, ErrVMNotFound, ""},
		{"Unable to create new NAS volume.  10.0.0.1:/cases is already exported by a volume with the name esxsink old", ErrAlreadyExported, "esxsink old"},
		{"NFS Error: The NFS server denied the mount request", ErrNFSMount, "VMK_NFS_MOUNT_DENIED"},
		{"sh: sha256sum: not found", ErrCommandNotFound, "sha256sum"},
		{"-sh: vmkfstools: not found", ErrCommandNotFound, "vmkfstools"},
		{"touch: /vmfs/volumes/ISOs/x: Read-only file system", ErrReadOnlyFS, ""},
		{"touch: j: Permission denied", ErrPermissionDenied, ""},
		{"tee: write error: No space left on device", ErrNoSpace, ""},
	} {
		err := Classify("some other line\n" + tc.out + "\n")
		var he *HostError
		if !errors.Is(err, tc.kind) || !errors.As(err, &he) || he.Name != tc.name {
			t.Errorf("Classify(%q) = %v (name %q), want %v %q", tc.out, err, nameOf(he), tc.kind, tc.name)
		}
	}
	err := Classify("cp: a: Device or resource busy\ncp: b: Device or resource busy\nsh: md5sum: not found\n")
	if !errors.Is(err, ErrDeviceBusy) || !errors.Is(err, ErrCommandNotFound) || errors.Is(err, ErrNoSpace) {
		t.Errorf("several messages: %v", err)
	}
}

func nameOf(he *HostError) string {
	if he == nil {
		return ""
	}
	return he.Name
}

func TestConfigFilesAndDatastorePath(t *testing.T) {
	t.Parallel()
	out := `Configuration:

(vim.vm.ConfigInfo) {
   changeVersion = "2024-01-02T03:04:05.123456Z",
   name = "Finance [Q3] Ledger",
   guestFullName = "Microsoft Windows Server 2019 (64-bit)",
   hardware = (vim.vm.VirtualHardware) {
      device = (vim.vm.device.VirtualDevice) [
         (vim.vm.device.VirtualDisk) {
            name = "not the VM",
         },
      ],
   },
   files = (vim.vm.FileInfo) {
      vmPathName = "[ssd-store] Finance [Q3] Ledger/Finance [Q3] Ledger.vmx",
      snapshotDirectory = "[ssd-store] Finance [Q3] Ledger/",
      suspendDirectory = "[ssd-store] Finance [Q3] Ledger/",
      logDirectory = "[ssd-store] Finance [Q3] Ledger/",
      ftMetadataDirectory = <unset>
   },
}
`
	c, err := ParseConfigFiles(out)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Finance [Q3] Ledger" || c.VMPathName != "[ssd-store] Finance [Q3] Ledger/Finance [Q3] Ledger.vmx" || c.SnapshotDirectory != "[ssd-store] Finance [Q3] Ledger/" {
		t.Errorf("%+v", c)
	}
	p, err := ParseDatastorePath(c.VMPathName)
	if err != nil || p.Datastore != "ssd-store" || p.HostPath() != "/vmfs/volumes/ssd-store/Finance [Q3] Ledger/Finance [Q3] Ledger.vmx" || p.String() != c.VMPathName {
		t.Errorf("%+v %q, %v", p, p.HostPath(), err)
	}
	if _, err := ParseConfigFiles("Unable to find a VM corresponding to \"3\"\n"); !errors.Is(err, ErrVMNotFound) {
		t.Errorf("unknown vmid: %v", err)
	}
	if _, err := ParseConfigFiles("(vim.vm.ConfigInfo) {\n}\n"); err == nil {
		t.Error("no vmPathName accepted")
	}
	for _, in := range []string{"ds/x.vmx", "[ds x.vmx", "[] x.vmx", "[a/b] x.vmx"} {
		if _, err := ParseDatastorePath(in); err == nil {
			t.Errorf("ParseDatastorePath(%q) accepted", in)
		}
	}
	if p, err := ParseDatastorePath("[lab:store 2]"); err != nil || p.HostPath() != "/vmfs/volumes/lab:store 2" {
		t.Errorf("datastore root: %+v %v", p, err)
	}
}

// TestConfigFilesUnescaped: the vmodl dump escapes backslashes, quotes and
// control characters in strings; the values come back as the host holds them.
func TestConfigFilesUnescaped(t *testing.T) {
	t.Parallel()
	c, err := ParseConfigFiles(fixture(t, "getconfig-escaped.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "  CORP\\svc \"backup\"\tnight\nrun $(id)  "; c.Name != want {
		t.Errorf("name %q, want %q", c.Name, want)
	}
	if c.VMPathName != `[datastore1] CORP\svc backup/x.vmx` || c.LogDirectory != `[datastore1] CORP\svc backup/` {
		t.Errorf("%+v", c)
	}
	for _, tc := range []struct{ in, name string }{
		{`name = "a\\",`, `a\`},                  // an escaped backslash before the closing quote
		{`name = "say "hi"",`, `say "hi"`},       // an unescaped quote is kept
		{"name = \"two\nlines\",", "two\nlines"}, // a raw newline: the value goes on
		{`name = "Prüfung 日本",`, "Prüfung 日本"},   // non-ASCII as is
		{`name = "C:\temp\x",`, "C:\temp\\x"},    // \t is an escape, \x is not
		{`name = "trailing  "`, "trailing  "},    // the last field has no comma
	} {
		in := "(vim.vm.ConfigInfo) {\n   " + tc.in + "\n   files = (vim.vm.FileInfo) {\n      vmPathName = \"[d] x/x.vmx\",\n   },\n}\n"
		c, err := ParseConfigFiles(in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if c.Name != tc.name {
			t.Errorf("%q: name %q, want %q", tc.in, c.Name, tc.name)
		}
	}
}
