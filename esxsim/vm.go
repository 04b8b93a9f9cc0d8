package esxsim

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/esxsink/esxsink/vmdk"
)

// datastore is a mounted VMFS volume.
type datastore struct {
	spec Datastore
	path string // /vmfs/volumes/<uuid>
}

// device is an entry of /vmfs/devices/disks.
type device struct {
	spec DeviceSpec
	data *genContent
}

// vm is a virtual machine: its files, power state, disks and snapshots.
type vm struct {
	h       *Host
	spec    VMSpec
	id      int // 0: unregistered
	ds      *datastore
	dir     string // /vmfs/volumes/<uuid>/<folder>
	base    string // file stem: <name>
	vmxName string
	power   string
	created time.Time
	disks   []*vdisk

	snaps   []*snapshot // in creation order
	current *snapshot
	lastUID int
	nextSn  int // next SnapshotN number for .vmsn names

	vmxNode  *node
	vmsdNode *node
}

// vdisk is one virtual disk and its chain of snapshot deltas.
type vdisk struct {
	vm       *vm
	spec     DiskSpec
	ds       *datastore
	dir      string // the base's folder: the VM folder, or where spec places it
	node     string // scsi0:0
	desc     string // base descriptor name
	size     int64
	base     content // the flat extent, or the RDM's LUN
	baseW    *genContent
	cid      uint32
	dev      *device
	layers   []*deltaLayer // every delta of this disk, in creation order
	top      *deltaLayer   // the delta the VM runs on; nil: the base
	nextNum  int
	flatNode *node // flat extent or RDM mapping file
	descNode *node
}

func (d *vdisk) stem() string { return strings.TrimSuffix(d.desc, ".vmdk") }

// path is a file of the base's folder (its descriptor, extent or mapping
// file); deltas are in the VM folder.
func (d *vdisk) path(name string) string { return d.dir + "/" + name }

// topPath is the host path of the descriptor the VM runs on.
func (d *vdisk) topPath() string {
	if d.top != nil {
		return d.vm.path(d.top.desc)
	}
	return d.path(d.desc)
}

// baseRef names the base descriptor from the VM folder. The .vmx says
// "../FOLDER/NAME" for another folder of the VM's datastore and the
// absolute /vmfs/volumes/<uuid>/... path for another datastore; a delta's
// parentFileNameHint (abs) is absolute whenever the parent is not beside
// it, as ESXi writes it.
func (d *vdisk) baseRef(abs bool) string {
	switch {
	case d.dir == d.vm.dir:
		return d.desc
	case abs || d.ds != d.vm.ds:
		return d.path(d.desc)
	}
	return "../" + d.spec.Folder + "/" + d.desc
}

// snapshottable reports whether a snapshot puts a delta over the disk.
func (d *vdisk) snapshottable() bool {
	return !strings.HasPrefix(d.spec.Kind, "independent-") && d.spec.Kind != "rdmp"
}

// running is the descriptor the VM runs on (the .vmx fileName).
func (d *vdisk) running() string {
	if d.top != nil {
		return d.top.desc
	}
	return d.baseRef(false)
}

func (v *vm) path(name string) string { return v.dir + "/" + name }

func (v *vm) datastorePath(name string) string {
	return fmt.Sprintf("[%s] %s/%s", v.ds.spec.Name, v.spec.Folder, name)
}

func (v *vm) deltaFormat(size int64) vmdk.DeltaFormat {
	if v.ds.spec.Type == "VMFS-5" && size < 2<<40 {
		return vmdk.VMFSSparse
	}
	return vmdk.SESparse
}

// buildVM lays out a VM's folder.
func (h *Host) buildVM(spec VMSpec) error {
	var ds *datastore
	for _, d := range h.dss {
		if d.spec.Name == spec.Datastore {
			ds = d
		}
	}
	v := &vm{h: h, spec: spec, id: spec.ID, ds: ds, dir: ds.path + "/" + spec.Folder,
		base: strings.TrimSuffix(spec.File, ".vmx"), vmxName: spec.File, power: spec.Power, nextSn: 1,
		created: h.sc.Start.Add(-time.Duration(90+spec.ID) * 24 * time.Hour)}
	if spec.Unregistered {
		v.id = 0
	}
	old := h.sc.Start.Add(-30 * 24 * time.Hour)
	h.makeFolder(v.dir, old)
	for i, ds := range spec.Disks {
		d := &vdisk{vm: v, spec: ds, node: ds.Node, desc: ds.Name, size: int64(ds.Size), nextNum: 1, ds: h.datastore(ds.Datastore)}
		d.dir = d.ds.path + "/" + ds.Folder
		h.makeFolder(d.dir, old)
		if err := h.buildDisk(v, d, i); err != nil {
			return fmt.Errorf("vm %q: %w", spec.Name, err)
		}
		v.disks = append(v.disks, d)
	}
	h.put(v.path(v.base+".vmxf"), fileMode, old, []byte(vmxfText(v)))
	nv := make([]byte, 8684)
	newGen(int64(len(nv)), stableHash("nvram", v.dir), 0, nil).ReadAt(nv, 0)
	copy(nv, "MRVN")
	h.put(v.path(v.base+".nvram"), fileMode, old, nv)
	for i := v.spec.Logs; i >= 1; i-- {
		h.put(v.path(fmt.Sprintf("vmware-%d.log", i)), fileMode, old, []byte(vmwareLog(v, i)))
	}
	h.put(v.path("vmware.log"), fileMode, h.sc.Start.Add(-time.Hour), []byte(vmwareLog(v, 0)))
	v.vmxNode = h.put(v.path(v.vmxName), 0o755, h.sc.Start.Add(-time.Hour), nil)
	v.vmsdNode = h.put(v.path(v.base+".vmsd"), fileMode, old, nil)
	if err := h.buildSnapshots(v); err != nil {
		return fmt.Errorf("vm %q: %w", spec.Name, err)
	}
	h.applyPower(v)
	v.writeConfig()
	h.vms = append(h.vms, v)
	return nil
}

const fileMode fs.FileMode = 0o600

func (h *Host) datastore(name string) *datastore {
	for _, d := range h.dss {
		if d.spec.Name == name {
			return d
		}
	}
	return nil
}

// makeFolder makes folder p unless it exists: a disk placed in another VM's
// folder, or two disks in one shared folder, keep what is already there.
func (h *Host) makeFolder(p string, mtime time.Time) {
	if n := h.fs.lookupNode(p); n != nil && n.isDir() {
		return
	}
	h.fs.put(p, &node{mode: fs.ModeDir | 0o755, mtime: mtime})
}

// put places a small file, held in memory, at p.
func (h *Host) put(p string, mode fs.FileMode, mtime time.Time, b []byte) *node {
	return h.fs.put(p, &node{mode: mode, mtime: mtime, data: newMem(h.fs, b)})
}

func (h *Host) buildDisk(v *vm, d *vdisk, i int) error {
	zp := 300
	if d.spec.ZeroPermille != nil {
		zp = *d.spec.ZeroPermille
	}
	old := h.sc.Start.Add(-30 * 24 * time.Hour)
	d.cid = uint32(stableHash("cid", v.dir, d.desc))
	if d.cid == vmdk.NoParentCID {
		d.cid--
	}
	desc := &vmdk.Descriptor{Version: 1, Encoding: "UTF-8", CID: d.cid, ParentCID: vmdk.NoParentCID, IsNativeSnapshot: "no"}
	ddb := []vmdk.KeyValue{{Key: "ddb.adapterType", Value: d.spec.Adapter}}
	switch d.spec.Kind {
	case "rdm", "rdmp":
		dev := h.device(d.spec.Device)
		if dev == nil {
			return fmt.Errorf("disk %s: unknown device %s", d.desc, d.spec.Device)
		}
		d.dev, d.size, d.base, d.baseW = dev, dev.data.size, dev.data, dev.data
		mapName := d.stem() + "-rdm.vmdk"
		desc.CreateType = "vmfsRawDeviceMap"
		if d.spec.Kind == "rdmp" {
			mapName = d.stem() + "-rdmp.vmdk"
			desc.CreateType = "vmfsPassthroughRawDeviceMap"
		}
		desc.CID = 0xfffffffe
		d.cid = desc.CID
		desc.Extents = []vmdk.ExtentLine{{Access: vmdk.AccessRW, Sectors: d.size / 512, Type: vmdk.ExtentVMFSRDM, FileName: mapName}}
		d.flatNode = h.fs.put(d.path(mapName), &node{mode: fileMode, mtime: old, data: dev.data})
	default:
		g, err := h.guestDiskGen(v.spec, d.spec, i, d.size, zp)
		if err != nil {
			return err
		}
		d.base, d.baseW = g, g
		desc.CreateType = "vmfs"
		flat := d.stem() + "-flat.vmdk"
		desc.Extents = []vmdk.ExtentLine{{Access: vmdk.AccessRW, Sectors: d.size / 512, Type: vmdk.ExtentVMFS, FileName: flat}}
		d.flatNode = h.fs.put(d.path(flat), &node{mode: fileMode, mtime: h.sc.Start.Add(-time.Hour), data: g})
		cyl := d.size / 512 / (255 * 63)
		ddb = append(ddb, vmdk.KeyValue{Key: "ddb.geometry.cylinders", Value: fmt.Sprint(max(cyl, 1))},
			vmdk.KeyValue{Key: "ddb.geometry.heads", Value: "255"}, vmdk.KeyValue{Key: "ddb.geometry.sectors", Value: "63"})
	}
	ddb = append(ddb,
		vmdk.KeyValue{Key: "ddb.longContentID", Value: fmt.Sprintf("%s%08x", hexOf(stableHash("lcid", v.dir, d.desc), 24), d.cid)},
		vmdk.KeyValue{Key: "ddb.uuid", Value: ddbUUID(stableHash("ddbuuid", v.dir, d.desc))},
		vmdk.KeyValue{Key: "ddb.virtualHWVersion", Value: fmt.Sprint(v.spec.HWVersion)})
	if d.spec.Kind == "thin" {
		ddb = append(ddb, vmdk.KeyValue{Key: "ddb.thinProvisioned", Value: "1"})
	}
	desc.DDB = ddb
	d.descNode = h.put(d.path(d.desc), fileMode, old, desc.Marshal())
	return nil
}

// ddbUUID renders a ddb.uuid value: "60 00 C2 9f 9a b0 9b 9c-13 55 ...".
func ddbUUID(h uint64) string {
	out := spacedUUID("6000c2" + hexOf(h, 26))
	return "60 00 C2" + out[8:]
}

func vmxfText(v *vm) string {
	return fmt.Sprintf("<?xml version=\"1.0\"?>\n<Foundry>\n<VM>\n<VMId type=\"string\">%s</VMId>\n<ClientMetaData>\n<clientMetaDataAttributes/>\n<HistoryEventList/></ClientMetaData>\n<vmxPathName type=\"string\">%s</vmxPathName></VM></Foundry>\n",
		strings.ReplaceAll(v.spec.UUID, " ", ""), xmlEscape(v.vmxName))
}

func vmwareLog(v *vm, n int) string {
	t := v.h.sc.Start.Add(-time.Duration(24*(n+1)) * time.Hour)
	var b strings.Builder
	for i, l := range []string{
		"Log for VMware ESX pid=%d version=%s build=build-%s option=Release",
		"The host is x86_64.",
		"Hostname=%s",
		"DICT --- CONFIGURATION %s",
		"DICT          displayName = \"%s\"",
		"DISKLIB-VMFS  : \"%s\" : open successful (10) size = %d, hd = 0. Type 3",
		"VMX exit (0).",
	} {
		var s string
		switch i {
		case 0:
			s = fmt.Sprintf(l, 2099000+v.spec.ID*7+n, v.h.sc.Host.Version, v.h.sc.Host.Build)
		case 2:
			s = fmt.Sprintf(l, v.h.sc.Host.Hostname)
		case 3:
			s = fmt.Sprintf(l, v.path(v.vmxName))
		case 4:
			s = fmt.Sprintf(l, v.spec.Name)
		case 5:
			if len(v.disks) == 0 {
				continue
			}
			s = fmt.Sprintf(l, v.disks[0].path(v.disks[0].stem()+"-flat.vmdk"), v.disks[0].size)
		case 6:
			if n == 0 && v.power == "on" {
				continue
			}
			s = l
		default:
			s = l
		}
		fmt.Fprintf(&b, "%s| vmx| I005: %s\n", t.Add(time.Duration(i)*time.Second).Format("2006-01-02T15:04:05.000Z"), s)
	}
	return b.String()
}

// applyPower creates the files a powered-on VM holds (locked swap files,
// the .vmx lock) and sets the disk locks.
func (h *Host) applyPower(v *vm) {
	lockNames := []string{v.vmxName + ".lck", v.swapName(), fmt.Sprintf("vmx-%s-%d-1.vswp", v.base, 1000000000+int(stableHash("vmxswp", v.dir)%999999999))}
	susp := v.path(fmt.Sprintf("%s-%s.vmss", v.base, hexOf(stableHash("vmss", v.dir), 8)))
	if v.power == "on" {
		h.fs.put(v.path(lockNames[0]), &node{mode: fileMode, busy: true, data: emptyContent{}})
		h.fs.put(v.path(lockNames[1]), &node{mode: fileMode, busy: true, data: newGen(int64(v.spec.MemoryMB)<<20, stableHash("swap", v.dir), 900, nil)})
		h.fs.put(v.path(lockNames[2]), &node{mode: fileMode, busy: true, data: newGen(93<<20, stableHash("vmxswap", v.dir), 500, nil)})
	} else {
		for _, n := range lockNames {
			h.fs.unlink(v.path(n))
		}
	}
	if v.power == "suspended" {
		h.fs.put(susp, &node{mode: fileMode, data: newGen(int64(v.spec.MemoryMB)<<20+8<<20, stableHash("vmss", v.dir), 400, nil)})
	} else {
		h.fs.unlink(susp)
	}
	h.updateLocks(v)
}

// updateLocks marks what a running VM holds open: the extent it writes
// (the base flat until a snapshot exists, then the active delta),
// independent disks and physical RDM mapping files.
func (h *Host) updateLocks(v *vm) {
	on := v.power == "on"
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	for _, d := range v.disks {
		if d.flatNode != nil {
			d.flatNode.busy = on && (d.top == nil || !d.snapshottable())
		}
		for _, l := range d.layers {
			if l.extNode != nil {
				l.extNode.busy = on && l == d.top
			}
		}
	}
}

// writeConfig rewrites the .vmx and .vmsd from the model.
func (v *vm) writeConfig() {
	v.vmxNode.data.(*memContent).set([]byte(v.vmxText()))
	v.vmsdNode.data.(*memContent).set([]byte(v.vmsdText()))
}

func xmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\"", "&quot;", "'", "&apos;")
	return r.Replace(s)
}

// vmByID returns the registered VM with vmid id.
func (h *Host) vmByID(id string) *vm {
	for _, v := range h.vms {
		if v.id != 0 && fmt.Sprint(v.id) == id {
			return v
		}
	}
	return nil
}

func (h *Host) device(id string) *device {
	for _, d := range h.devs {
		if d.spec.ID == id || d.spec.VML == id {
			return d
		}
	}
	return nil
}

// vmxPathName is the VM's .vmx as a datastore path.
func (v *vm) vmxPathName() string { return v.datastorePath(v.vmxName) }

func (v *vm) vmxAbs() string { return path.Join(v.dir, v.vmxName) }
