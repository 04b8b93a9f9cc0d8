package esxi

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// ESXSINK_SAMPLES_DIR names a folder of real ESXi outputs (one per file,
// its source on line 1), such as the team's shared esxi-samples. The
// suite's own fixtures in testdata carry the assertions every run makes;
// these check the parsers against what hosts really printed, on a
// developer's request only: the suite reads nothing outside the repo.
const samplesEnv = "ESXSINK_SAMPLES_DIR"

// sampleTests has a test for every sample file; TestSamples fails on a
// sample that has none, so a new sample cannot be forgotten.
var sampleTests = map[string]func(t *testing.T, body string){
	"esxcfg-nas-add-1.txt": func(t *testing.T, body string) {
		checkNASAddSample(t, body, "\t", "Win2k8_Share")
	},
	"esxcfg-nas-add-2.txt": func(t *testing.T, body string) {
		checkNASAddSample(t, body, "", "Belstar_KH")
	},
	"esxcfg-nas-d-1.txt": func(t *testing.T, body string) {
		ls := outputs(body, "esxcfg-nas -l", "\t", true)
		m, err := ParseNASList(ls[0])
		if err != nil || len(m) != 1 || m[0] != (NASMount{"nfs", "/rpool1/nfs_share", "192.168.1.107", true, false, "mounted"}) {
			t.Errorf("-l: %+v, %v", m, err)
		}
		if err := CheckNASRemove(outputs(body, "esxcfg-nas -d nfs", "\t", true)[0], "nfs"); err != nil {
			t.Error(err)
		}
		checkNASAddSample(t, body, "\t", "nfs")
	},
	"esxcfg-nas-l-1.txt": func(t *testing.T, body string) {
		m, err := ParseNASList(outputs(body, "esxcfg-nas -l", "\t", true)[0])
		if err != nil || len(m) != 1 || !m[0].Mounted || !m[0].Available || m[0].Label != "ISOs" || m[0].Host != "fileserver2" {
			t.Errorf("%+v, %v", m, err)
		}
		if err := Classify(body); !errors.Is(err, ErrReadOnlyFS) {
			t.Errorf("read-only touch: %v", err)
		}
	},
	"esxcfg-nas-l-2.txt": func(t *testing.T, body string) {
		ls := outputs(body, "esxcfg-nas -l", "\t", true)
		down, err1 := ParseNASList(ls[0])
		up, err2 := ParseNASList(ls[1])
		if err1 != nil || err2 != nil || len(down) != 1 || down[0].Mounted || down[0].Status != "" || len(up) != 1 || !up[0].Mounted || up[0].Share != "/vol/data1" {
			t.Errorf("unreachable %+v (%v), recovered %+v (%v)", down, err1, up, err2)
		}
	},
	"esxcfg-nas-l-4.txt": func(t *testing.T, body string) {
		ls := outputs(body, "vicfg-nas -l", "", true)
		empty, err1 := ParseNASList(ls[0])
		one, err2 := ParseNASList(ls[1])
		if err1 != nil || err2 != nil || len(empty) != 0 || len(one) != 1 || one[0].Label != "nfs_datastore1" || !one[0].Mounted || one[0].Available {
			t.Errorf("%+v %v / %+v %v", empty, err1, one, err2)
		}
		if err := CheckNASAdd(outputs(body, "vicfg-nas -a", "", true)[0], "nfs_datastore1"); err != nil {
			t.Error(err)
		}
	},
	"esxcli-storage-core-device-list-1.txt": func(t *testing.T, body string) {
		ds := coreDevices(t, outputs(body, "esxcli storage core device list", "", false)[0])
		if len(ds) != 1 || ds[0].Device != "eui.00a0504658335330" || ds[0].SizeMB != 30436 || !*ds[0].IsUSB || !*ds[0].IsBootDevice ||
			!ds[0].IsRemovable || !slices.Equal(ds[0].OtherUIDs, []string{"vml.0000000000766d68626133323a303a30"}) {
			t.Errorf("%+v", ds)
		}
	},
	"esxcli-storage-core-device-list-2.txt": func(t *testing.T, body string) {
		ds := coreDevices(t, outputs(body, "esxcli storage core device list", "", false)[0])
		if len(ds) != 2 || ds[0].SizeMB != 1953514 || !ds[0].IsSSD || *ds[0].IsUSB || *ds[0].IsBootDevice || !*ds[1].IsBootDevice ||
			ds[1].Device != "t10.ATA_____SK_hynix_SC311_SATA_256GB_______________MJ7CN7053106B120O___" {
			t.Errorf("%+v", ds)
		}
	},
	"esxcli-storage-filesystem-list-1.txt": func(t *testing.T, body string) {
		fs := cutTable(t, outputs(body, "esxcli storage filesystem list", "", false)[0])
		if len(fs) != 3 || fs[0].VolumeName != "VMs" || fs[0].Type != "VMFS-6" || fs[0].Size != 1192121860096 || fs[1].VolumeName != "" || fs[1].Type != "vfat" {
			t.Errorf("%+v", fs)
		}
	},
	"esxcli-storage-filesystem-list-2.txt": func(t *testing.T, body string) {
		fs := cutTable(t, outputs(body, "esxcli storage filesystem list", "", false)[0])
		if len(fs) != 3 || fs[0].VolumeName != "datastore1" || fs[0].Type != "VMFS-5" || fs[2].Free != 91848704 {
			t.Errorf("%+v", fs)
		}
	},
	"esxcli-storage-filesystem-list-3.txt": func(t *testing.T, body string) {
		fs := cutTable(t, outputs(body, "esxcli storage filesystem list", "", false)[0])
		if len(fs) != 2 || fs[0].Type != "VMFSOS" || fs[1].VolumeName != "BOOTBANK1" || fs[1].Free != 3975413760 {
			t.Errorf("%+v", fs)
		}
		if !strings.Contains(body, "All commands run on the ESXi shell are logged") {
			t.Error("banner gone from the sample")
		}
	},
	"esxcli-storage-filesystem-list-4.txt": func(t *testing.T, body string) {
		// The header is not aligned with the dashes here; the rows are.
		fs := cutTable(t, outputs(body, ">storage filesystem list", "", false)[0])
		if len(fs) != 3 || fs[0].UUID != "574c0c05-a86acb5e-4588-001d0921409d" || !fs[0].Mounted || fs[2].Size != 261853184 {
			t.Errorf("%+v", fs)
		}
	},
	"esxcli-storage-nfs-list-1.txt": func(t *testing.T, body string) {
		recs, err := ParseEsxcliText(outputs(body, "esxcli storage nfs list", "", false)[0])
		if err != nil {
			t.Fatal(err)
		}
		vs, err := NFSVolumes(recs)
		if err != nil || len(vs) != 1 || vs[0].VolumeName != "nfsbackup" || vs[0].Share != "/volume1/vmnfsbackup" ||
			vs[0].ReadOnly == nil || *vs[0].ReadOnly || vs[0].IsPE == nil || !vs[0].Mounted {
			t.Errorf("%+v, %v", vs, err)
		}
		var he *HostError
		if err := Classify(outputs(body, "esxcli storage nfs add", "", false)[0]); !errors.Is(err, ErrAlreadyExported) || !errors.As(err, &he) || he.Name != "nfsbackup" {
			t.Errorf("already exported: %v", err)
		}
	},
	"esxcli-storage-nfs-list-2.txt": func(t *testing.T, body string) {
		// The blog collapsed the table's spacing: the parser must refuse
		// it rather than guess columns.
		out := outputs(body, "esxcli storage nfs list", ">     ", false)[0]
		if _, err := ParseEsxcliText(out); err == nil {
			t.Error("whitespace-collapsed table accepted")
		}
		if err := Classify(body); !errors.Is(err, ErrPermissionDenied) {
			t.Errorf("root-squashed write: %v", err)
		}
	},
	"esxcli-storage-nfs-remove-1.txt": func(t *testing.T, body string) {
		if err := Classify(quoted(t, body)[0]); !errors.Is(err, ErrUnmountBusy) {
			t.Errorf("%v", err)
		}
	},
	"esxcli-system-hostname-get-1.txt": func(t *testing.T, body string) {
		checkHostnameSample(t, body, Hostname{"exi116", "", "exi116"})
	},
	"esxcli-system-version-get-1.txt": func(t *testing.T, body string) {
		checkVersionSample(t, body, HostVersion{"VMware ESXi", "5.5.0", 5, 5, 0, 3248547, 3, -1})
		v, err := ParseVMwareVersion(outputs(body, "vmware -v", "", true)[0])
		if err != nil || v.Build != 3248547 || v.Version != "5.5.0" || v.Update != -1 {
			t.Errorf("vmware -v: %+v, %v", v, err)
		}
	},
	"esxcli-system-version-get-2.txt": func(t *testing.T, body string) {
		checkVersionSample(t, body, HostVersion{"VMware ESXi", "6.5.0", 6, 5, 0, 8294253, 2, 50})
		checkHostnameSample(t, body, Hostname{"localhost", "", "localhost"})
	},
	"esxcli-system-version-get-3.txt": func(t *testing.T, body string) {
		checkVersionSample(t, body, HostVersion{"VMware ESXi", "8.0.1", 8, 0, 1, 21495797, 1, 0})
	},
	"esxcli-vm-process-list-1.txt": func(t *testing.T, body string) {
		ps := vmProcesses(t, outputs(body, "esxcli vm process list", "", false)[0])
		if len(ps) != 2 || ps[0].DisplayName != "server08R2" || ps[0].WorldID != 107654 || ps[1].VMXCartelID != 1454882 ||
			ps[1].ConfigFile != "/vmfs/volumes/5cc5b591-875b0190-c587-001871eaca38/CentOS7.6_mini/CentOS7.6_mini.vmx" {
			t.Errorf("%+v", ps)
		}
	},
	"esxcli-vm-process-list-2.txt": func(t *testing.T, body string) {
		ps := vmProcesses(t, outputs(body, "esxcli vm process list", "", false)[0])
		if len(ps) != 2 || ps[1].DisplayName != "Server 2016 Vcenter" ||
			ps[1].ConfigFile != "/vmfs/volumes/5cce65ea-ab8c59fa-82c7-003048fc4ffe/Server 2016 Vcenter/Server 2016 Vcenter.vmx" {
			t.Errorf("%+v", ps)
		}
	},
	"ls-vm-folder-snapshots-1.txt": func(t *testing.T, body string) {
		// ls -lh is not parsed (CmdLsVMFolder stats each entry instead);
		// the grep'd .vmx line is.
		line := strings.TrimSpace(strings.Split(body, "\n")[1])
		d, err := ParseDict("vmx", []byte(line))
		if err != nil || d.String("IDE1:0.FILENAME") != "cdrom0" {
			t.Errorf("%q: %v", line, err)
		}
	},
	"ls-vmfs-devices-disks-1.txt": notParsed("ls -l /vmfs/devices/disks", "ls -l of /vmfs/devices/disks: device sizes come from CmdStat, names from esxcli storage core device list"),
	"ls-vmfs-devices-disks-2.txt": notParsed("ls -l /vmfs/devices/disks", "ls -l of /vmfs/devices/disks: device sizes come from CmdStat, names from esxcli storage core device list"),
	"lsusb-1.txt": func(t *testing.T, body string) {
		ds, err := ParseLsusb(outputs(body, "lsusb", "", true)[0])
		hubs := 0
		for _, d := range ds {
			if d.IsRootHub() {
				hubs++
			}
		}
		if err != nil || len(ds) != 5 || hubs != 2 || ds[2] != (USBDevice{1, 2, 0x0c45, 0x6510, "Microdia"}) {
			t.Errorf("%+v, %v", ds, err)
		}
	},
	"vim-cmd-getallvms-1.txt": func(t *testing.T, body string) {
		l := getAllVMs(t, body[strings.Index(body, "\"\"\"\\\n")+5:strings.LastIndex(body, "\"\"\"")])
		if !slices.Equal(l.IDs(), []int{1, 24}) || !l.HasAnnotation {
			t.Fatalf("%+v", l)
		}
		vm := l.VMs[1]
		if vm.Name != "Test Test [Test] [Test]" || vm.Datastore != "datastore_050_vmfs6" || vm.Path != "Test/Test.vmx" || vm.Version != "vmx-17" || !vm.Ambiguous {
			t.Errorf("%+v", vm)
		}
		if l.VMs[0].Datastore != "datastore_050" || l.VMs[0].Ambiguous {
			t.Errorf("%+v", l.VMs[0])
		}
	},
	"vim-cmd-getallvms-3.txt": func(t *testing.T, body string) {
		l := getAllVMs(t, outputs(body, "vim-cmd vmsvc/getallvms", "\t", true)[0])
		if !slices.Equal(l.IDs(), []int{1, 2}) || l.VMs[1].GuestOS != "windows7Server64Guest" || l.VMs[1].Annotation != "" || l.VMs[1].Version != "vmx-08" {
			t.Errorf("%+v", l.VMs)
		}
	},
	"vim-cmd-getallvms-5.txt": func(t *testing.T, body string) {
		ls := outputs(body, "vim-cmd vmsvc/getallvms", "    ", true)
		first, second := getAllVMs(t, ls[0]), getAllVMs(t, ls[1])
		if !slices.Equal(first.IDs(), []int{3}) || !first.HasAnnotation || !slices.Equal(second.IDs(), []int{3, 6}) || second.HasAnnotation ||
			second.VMs[1].Name != "CentosTest" || second.VMs[1].Path != "LinkedClone1/LinkedClone1.vmx" {
			t.Errorf("%+v / %+v", first, second)
		}
	},
	"vim-cmd-power-getstate-1.txt": func(t *testing.T, body string) {
		checkPower(t, outputs(body, "vim-cmd vmsvc/power.getstate 7", "\t", true)[0], PoweredOff)
	},
	"vim-cmd-power-getstate-2.txt": func(t *testing.T, body string) {
		checkPower(t, outputs(body, "vim-cmd vmsvc/power.getstate 40", "", true)[0], PoweredOff)
		// The excerpt cut the header; the VM line has a ':' in its datastore.
		l := getAllVMs(t, "Vmid Name File Guest OS Version Annotation\n"+strings.Split(body, "\n")[1])
		if len(l.VMs) != 1 || l.VMs[0].Datastore != "wtgc-vmbd-01:datastore1" || l.VMs[0].Name != "packer-vmware-iso" {
			t.Errorf("%+v", l.VMs)
		}
	},
	"vim-cmd-snapshot-create-1.txt": func(t *testing.T, body string) {
		if err := CheckSnapshotCreate(outputs(body, `snapshot.create 3 "ReferenceSnapshot"`, "    ", true)[0]); err != nil {
			t.Error(err)
		}
		tr := snapshotTree(t, outputs(body, "vim-cmd vmsvc/snapshot.get 3", "    ", true)[0])
		s := tr.ByName("ReferenceSnapshot")
		if len(s) != 1 || s[0].ID != 7 || s[0].Description != "Used for linked clones of Centos VM" || !s[0].Created.Equal(time.Date(2015, 2, 24, 21, 22, 25, 0, time.UTC)) {
			t.Errorf("%+v", s)
		}
		// The usage line in the sample gives the argument order we build.
		toks, err := shTokens(okFn(t)(CmdSnapshotCreate(3, "SnapName", "Snap Description", true, true)))
		if want := []string{"vim-cmd", "vmsvc/snapshot.create", "3", "SnapName", "Snap Description", "1", "1"}; err != nil || !slices.Equal(words(toks), want) {
			t.Errorf("built %q, want %q as in the sample", words(toks), want)
		}
	},
	"vim-cmd-snapshot-create-2.txt": func(t *testing.T, body string) {
		for _, out := range outputs(body, "vim-cmd vmsvc/snapshot.create 282", "\t", true)[:2] {
			if err := CheckSnapshotCreate(out); err != nil {
				t.Error(err)
			}
		}
		l := getAllVMs(t, "Vmid Name File Guest OS Version\n"+outputs(body, "vim-cmd vmsvc/getallvms", "\t", true)[0])
		if len(l.VMs) != 1 || l.VMs[0].ID != 282 || l.VMs[0].Name != "test" || l.VMs[0].Datastore != "iscsi_dev" {
			t.Errorf("%+v", l.VMs)
		}
	},
	"vim-cmd-snapshot-create-3.txt": func(t *testing.T, body string) {
		err := Classify(outputs(body, "cp /vmfs/volumes/datastore1/Haumea/*", "", true)[0])
		if joined, ok := err.(interface{ Unwrap() []error }); !ok || len(joined.Unwrap()) != 4 || !errors.Is(err, ErrDeviceBusy) {
			t.Errorf("want four busy files: %v", err)
		}
	},
	"vim-cmd-snapshot-get-1.txt": func(t *testing.T, body string) {
		tr := snapshotTree(t, outputs(body, "vim-cmd vmsvc/snapshot.get 3", "    ", true)[0])
		all := tr.All()
		if len(all) != 4 || all[3].Name != "snap04" || all[3].Depth != 3 || all[2].Children[0] != all[3] || all[0].State != "powered on" {
			t.Errorf("%+v", all)
		}
	},
	"vim-cmd-snapshot-get-2.txt": func(t *testing.T, body string) {
		tr := snapshotTree(t, outputs(body, "vim-cmd vmsvc/snapshot.get 3", "", true)[0])
		s := tr.ByID(5)
		if s == nil || s.Name != "snapshot_backup" || s.Description != "0" || s.CreatedRaw != "12/17/2022 15:34:49" {
			t.Errorf("%+v", s)
		}
	},
	"vim-cmd-snapshot-get-4.txt": func(t *testing.T, body string) {
		tr := snapshotTree(t, outputs(body, "vim-cmd vmsvc/snapshot.get 11", "\t", true)[0])
		if s := tr.ByID(3); s == nil || s.Description != "" || s.Name != "before-packstack-with-mariadb" {
			t.Errorf("%+v", s)
		}
		rv := snapshotTree(t, outputs(body, "vim-cmd vmsvc/snapshot.revert 11 3 0", "\t", true)[0])
		if rv.Header != "Revert Snapshot:" || len(rv.All()) != 1 {
			t.Errorf("revert: %+v", rv)
		}
		l := getAllVMs(t, outputs(body, "vim-cmd vmsvc/getallvms", "\t", true)[0])
		if !slices.Equal(l.IDs(), []int{10, 11}) || l.HasAnnotation || l.VMs[1].Path != "os-test.vmx" || l.VMs[1].Datastore != "" {
			t.Errorf("%+v", l)
		}
	},
	"vim-cmd-snapshot-remove-1.txt": func(t *testing.T, body string) {
		tr, err := ParseSnapshotRemove(outputs(body, "vim-cmd vmsvc/snapshot.remove 3 4", "    ", true)[0])
		if err != nil || len(tr.All()) != 3 || tr.ByID(4) != nil || tr.ByID(3) == nil {
			t.Errorf("%+v, %v", tr, err)
		}
		if !strings.Contains(body, "$ "+CmdSnapshotRemove(3, 4)+"\n") {
			t.Errorf("the sample's command is not %q", CmdSnapshotRemove(3, 4))
		}
		// The author cut the revert output with "...": an error on that line.
		out := outputs(body, "vim-cmd vmsvc/snapshot.revert 3 1 0", "    ", true)[0]
		_, err = ParseSnapshotTree(out)
		if pe, ok := err.(*ParseError); !ok || pe.Line != strings.Count(out, "\n") {
			t.Errorf("truncated revert: %v", err)
		}
	},
	"vmdk-descriptor-flat-1.txt":         notParsed("createType=", "VMDK descriptors are parsed by vmdk.ParseDescriptor"),
	"vmdk-descriptor-flat-thin-1.txt":    notParsed("createType=", "VMDK descriptors are parsed by vmdk.ParseDescriptor"),
	"vmdk-descriptor-rdm-2.txt":          notParsed("createType=", "VMDK descriptors are parsed by vmdk.ParseDescriptor"),
	"vmdk-descriptor-rdm-physical-1.txt": notParsed("createType=", "VMDK descriptors are parsed by vmdk.ParseDescriptor; the empty .vmsd it lists is TestParseVMSD's empty.vmsd"),
	"vmdk-descriptor-sesparse-1.txt":     notParsed("createType=", "VMDK descriptors are parsed by vmdk.ParseDescriptor"),
	"vmdk-descriptor-vmfssparse-1.txt": func(t *testing.T, body string) {
		// The descriptor is vmdk's; the grep'd .vmx lines are ours.
		out := html(outputs(body, "grep vmdk vps.vmx", "\t", true)[1])
		v, err := ParseVMX([]byte(out))
		if err != nil || len(v.Devices) != 1 || v.Devices[0].FileName != "vps-000001.vmdk" || v.Devices[0].Kind != KindDisk {
			t.Errorf("%+v, %v", v, err)
		}
	},
	"vmkernel-nfs-error-strings-1.txt": func(t *testing.T, body string) {
		re := regexp.MustCompile(`DEFINE_VMK_ERR\((VMK_NFS_\w+),\s*"([^"]*)"`)
		ms := re.FindAllStringSubmatch(body, -1)
		if len(ms) != len(NFSMountFailures()) {
			t.Errorf("%d statuses in the sample, %d in NFSMountFailures", len(ms), len(NFSMountFailures()))
		}
		for _, m := range ms {
			if !slices.Contains(NFSMountFailures(), NFSMountFailure{m[1], m[2]}) {
				t.Errorf("%s %q missing from NFSMountFailures", m[1], m[2])
			}
			var he *HostError
			if err := Classify("NFS Error: " + m[2]); !errors.As(err, &he) || he.Name != m[1] {
				t.Errorf("Classify %q: %v", m[2], err)
			}
		}
	},
	"vmkfstools-q-1.txt": func(t *testing.T, body string) {
		info, err := ParseVmkfstoolsQuery(outputs(body, "vmkfstools -q", "\t", true)[0])
		if err != nil || info != (RDMInfo{"test-000002.vmdk", false, "vml.0200090000600144f0e8cb470000005025b86b0003434f4d535441"}) {
			t.Errorf("%+v, %v", info, err)
		}
	},
	"vmkfstools-q-2.txt": func(t *testing.T, body string) {
		info, err := ParseVmkfstoolsQuery(outputs(body, "vmkfstools -q", "\t", true)[0])
		if err != nil || !info.Passthrough || info.Disk != "/vmfs/volumes/datastore/MSCS_NODE/MSCS_NODE_3.vmdk" || info.Device != "vml.0200050000600601603df02d00d06e9cf71b6fe111565241494420" {
			t.Errorf("%+v, %v", info, err)
		}
	},
	"vmsd-1.txt": func(t *testing.T, body string) {
		v, err := ParseVMSD([]byte(html(outputs(body, "cat vps.vmsd", "\t", true)[0])))
		if err != nil || v.CurrentUID != 2 || v.LastUID != 4 || v.NumSnapshots != 1 || len(v.Snapshots) != 1 || len(v.Warnings) != 0 {
			t.Fatalf("%+v, %v", v, err)
		}
		s := v.Snapshots[0]
		if s.UID != 2 || s.DisplayName != "test1" || s.FileName != "vps-Snapshot2.vmsn" || !s.CreateTime.Equal(time.UnixMicro(1334000601049701)) ||
			!slices.Equal(s.Disks, []VMSDDisk{{0, "vps.vmdk", "scsi0:0"}}) {
			t.Errorf("%+v", s)
		}
	},
	"vmware-v-1.txt": func(t *testing.T, body string) {
		l, err1 := ParseVMwareVersion(outputs(body, "vmware -l", "", false)[0])
		v, err2 := ParseVMwareVersion(outputs(body, "vmware -v", "", false)[0])
		if err1 != nil || err2 != nil || l.Version != "6.7.0" || l.Update != 3 || l.Build != 0 || v.Version != "7.0.3" || v.Build != 20328353 || v.Update != -1 {
			t.Errorf("%+v %v / %+v %v", l, err1, v, err2)
		}
	},
	"vmware-v-3.txt": func(t *testing.T, body string) {
		want := []HostVersion{
			{"VMware ESXi", "8.0.0", 8, 0, 0, 20513097, -1, -1},
			{"VMware ESXi", "7.0.3", 7, 0, 3, 19193900, -1, -1},
			{"VMware ESXi", "7.0.1", 7, 0, 1, 16850804, -1, -1},
			{"VMware ESXi", "7.0", 7, 0, 0, 0, 0, -1},
		}
		for i, s := range quoted(t, body) {
			v, err := ParseVMwareVersion(s)
			if err != nil || v != want[i] {
				t.Errorf("%q: %+v, %v", s, v, err)
			}
		}
	},
	"vmware-vl-2.txt": func(t *testing.T, body string) {
		var out []string
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, ">") {
				out = append(out, strings.TrimPrefix(strings.TrimPrefix(l, ">"), " "))
			}
		}
		v, err := ParseVMwareVersion(strings.Join(out, "\n"))
		if err != nil || v != (HostVersion{"VMware ESXi", "6.5.0", 6, 5, 0, 14320405, 3, -1}) {
			t.Errorf("%+v, %v", v, err)
		}
	},
	"vmx-1.txt": func(t *testing.T, body string) {
		v, err := ParseVMX([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		disks, cds := v.Disks(), v.CDROMs()
		if len(disks) != 2 || disks[0].FileName != "esx8.0-win11-with-second-disk-in-subfolder.vmdk" ||
			disks[1].HostPath("/vmfs/volumes/ds/vm") != "/vmfs/volumes/ds/vm/subfolder/esx8.0-win11-with-second-disk-in-subfolder_1.vmdk" {
			t.Errorf("disks %+v", disks)
		}
		if len(cds) != 1 || cds[0].Node != "sata0:0" || cds[0].DeviceType != "cdrom-image" || !strings.HasPrefix(cds[0].FileName, "/vmfs/volumes/") {
			t.Errorf("CD-ROMs %+v", cds)
		}
		if v.MemSizeMB != 4096 || v.HWVersion != 20 || v.DisplayName != "esx8.0-win11-with-second-disk-in-subfolder" ||
			v.NVRAM != "esx8.0-win11-with-second-disk-in-subfolder.nvram" || !strings.HasSuffix(v.SwapDerivedName, "-5474484f.vswp") || len(v.Devices) != 3 {
			t.Errorf("%+v", v)
		}
	},
	"vmx-2.txt": func(t *testing.T, body string) {
		// The researcher replaced the last line with a note: a parse error
		// on exactly that line.
		body = strings.TrimSuffix(body, "\n")
		_, err := ParseVMX([]byte(body))
		n := strings.Count(body, "\n") + 1
		if pe, ok := err.(*ParseError); !ok || pe.Line != n {
			t.Errorf("note line: %v, want a ParseError on line %d", err, n)
		}
		v, err := ParseVMX([]byte(body[:strings.LastIndex(body, "\n")]))
		if err != nil {
			t.Fatal(err)
		}
		disks, cds := v.Disks(), v.CDROMs()
		if len(disks) != 2 || disks[0].Node != "nvme0:0" || disks[1].FileName != "dokuwiki_1.vmdk" || disks[0].Bus != BusNVMe {
			t.Errorf("disks %+v", disks)
		}
		if len(cds) != 1 || cds[0].Node != "ide0:0" || cds[0].FileName != "/vmfs/devices/cdrom/mpx.vmhba0:C0:T0:L0" {
			t.Errorf("CD-ROMs %+v", cds)
		}
		if !strings.Contains(v.Dict.String("guestInfo.detailed.data"), "prettyName='Debian GNU/Linux 12 (bookworm)'") {
			t.Error("value with single quotes")
		}
	},
}

func TestSamples(t *testing.T) {
	t.Parallel()
	samplesDir := os.Getenv(samplesEnv)
	if samplesDir == "" {
		t.Skipf("real ESXi samples are checked on request: %s=../shared/esxi-samples go test ./esxi -run TestSamples", samplesEnv)
	}
	entries, err := os.ReadDir(samplesDir)
	if err != nil {
		t.Fatalf("%s=%s: %v", samplesEnv, samplesDir, err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		seen[name] = true
		test, ok := sampleTests[name]
		if !ok {
			t.Errorf("sample %s has no test in sampleTests", name)
			continue
		}
		b, err := os.ReadFile(filepath.Join(samplesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		first, body, _ := strings.Cut(string(b), "\n")
		if !strings.HasPrefix(first, "# source:") {
			t.Errorf("%s: line 1 is not a source line", name)
		}
		t.Run(name, func(t *testing.T) { test(t, body) })
	}
	for name := range sampleTests {
		if !seen[name] {
			t.Errorf("sampleTests names %s, which is not in %s", name, samplesDir)
		}
	}
}
