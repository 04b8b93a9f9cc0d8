package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/vmdk"
)

// Commander runs one command on the host: a *Runner, which records it.
type Commander interface {
	Run(ctx context.Context, cmd string) (*CommandResult, error)
}

// Inventory is what discovery found on a host: identity, datastores and
// every VM, registered or not, with its disks, snapshots and files.
type Inventory struct {
	Host       HostInfo          `json:"host"`
	Datastores []esxi.Filesystem `json:"datastores"`
	// NFS are the host's NAS datastores (esxcfg-nas -l).
	NFS []esxi.NASMount `json:"nfs,omitempty"`
	// Devices are the storage devices: local disks, LUNs, USB disks.
	Devices []esxi.CoreDevice `json:"devices,omitempty"`
	USB     []esxi.USBDevice  `json:"usb,omitempty"`
	VMs     []*VM             `json:"vms"`
	// Unplaced are registered VMs found but not collectable (their
	// configuration, power state or files could not be read).
	Unplaced []UnplacedVM `json:"unplaced,omitempty"`
	Warnings []string     `json:"warnings,omitempty"`
}

// HostInfo identifies the host.
type HostInfo struct {
	Addr     string           `json:"address"`
	Hostname string           `json:"hostname"`
	Version  esxi.HostVersion `json:"version"`
}

// VM is one virtual machine found on the host.
type VM struct {
	// ID is the vmid; 0 for an unregistered VM.
	ID         int    `json:"id,omitempty"`
	Name       string `json:"name"`
	Registered bool   `json:"registered"`
	// Power is the power state ("" for an unregistered VM: off).
	Power esxi.PowerState `json:"power,omitempty"`
	// VMX is the absolute host path of the .vmx; Dir its folder.
	VMX string `json:"vmx"`
	Dir string `json:"dir"`
	// Snapshots is the tree vim-cmd reports (nil: none or unregistered).
	Snapshots *esxi.SnapshotTree `json:"snapshots,omitempty"`
	Disks     []Disk             `json:"disks"`
	Files     []File             `json:"files"`
	Warnings  []string           `json:"warnings,omitempty"`
}

// Running reports whether the VM is powered on (its disks are written).
func (v *VM) Running() bool { return v.Power == esxi.PoweredOn }

// Disk is one virtual disk of a VM's .vmx.
type Disk struct {
	Node        string `json:"node"`
	Descriptor  string `json:"descriptor"` // absolute host path
	Mode        string `json:"mode,omitempty"`
	Independent bool   `json:"independent,omitempty"`
	CreateType  string `json:"create_type,omitempty"`
	// Extents are the absolute host paths of the data files.
	Extents []string `json:"extents,omitempty"`
	// Parent is the parent descriptor of a delta (absolute), if any.
	Parent string `json:"parent,omitempty"`
	// Chain is what lies under Descriptor, found by following each
	// parentFileNameHint: the parent first, the base disk last; empty for
	// a disk without snapshot.
	Chain []Layer `json:"chain,omitempty"`
	// RDM is set for a raw device mapping, which the base descriptor says
	// it is (createType or extent type), whatever vmkfstools -q answers,
	// and however many snapshot deltas lie over it. Its Device is empty
	// when vmkfstools -q could not name the device; RDMUnresolved says
	// why.
	RDM           *esxi.RDMInfo `json:"rdm,omitempty"`
	RDMUnresolved string        `json:"rdm_unresolved,omitempty"`
}

// Layer is one descriptor of a disk's snapshot chain and its data files.
type Layer struct {
	Descriptor string   `json:"descriptor"` // absolute host path
	CreateType string   `json:"create_type,omitempty"`
	Extents    []string `json:"extents,omitempty"`
}

// Layers lists the disk's descriptors from the one the VM runs on to the
// base.
func (d Disk) Layers() []Layer {
	return append([]Layer{{Descriptor: d.Descriptor, CreateType: d.CreateType, Extents: d.Extents}}, d.Chain...)
}

// Base is the bottom of the chain: the base disk, or for an RDM the
// mapping's descriptor.
func (d Disk) Base() Layer {
	l := d.Layers()
	return l[len(l)-1]
}

// MappingFiles are an RDM's mapping files (the base's extents), which
// read as the LUN; none for another disk.
func (d Disk) MappingFiles() []string {
	if d.RDM == nil {
		return nil
	}
	return d.Base().Extents
}

// maxChain bounds how many parents discovery follows: ESXi allows 32
// snapshots in a chain, and a chain that goes on is a loop or forged.
const maxChain = 255

// File is one regular file in a VM folder.
type File struct {
	Name string `json:"name"`
	Path string `json:"path"` // absolute host path
	Size int64  `json:"size"`
	// Outside marks a disk file outside the VM folder.
	Outside bool `json:"outside,omitempty"`
}

// maxSmallFile bounds reads of .vmx, .vmsd and descriptors.
const maxSmallFile = 4 << 20

// Discover inventories the host with read-only commands only. Every vmid
// the host reports ends up in Inventory.VMs or Inventory.Unplaced; when one
// cannot be placed at all, or a running VM belongs to no registered one,
// Discover returns the inventory so far and a *DiscoveryError naming them.
func Discover(ctx context.Context, r Commander, addr string, logger *slog.Logger) (*Inventory, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	inv := &Inventory{Host: HostInfo{Addr: addr}}
	d := &discovery{r: r, inv: inv, log: logger, running: map[string]bool{}}
	if err := d.host(ctx); err != nil {
		return nil, err
	}
	if err := d.registered(ctx); err != nil {
		return nil, err
	}
	d.processes(ctx)
	if len(d.problems) > 0 {
		return inv, &DiscoveryError{Host: addr, Problems: d.problems}
	}
	if err := d.unregistered(ctx); err != nil {
		return nil, err
	}
	return inv, nil
}

type discovery struct {
	r   Commander
	inv *Inventory
	log *slog.Logger
	// problems are the VMs the host reports that could not be placed.
	problems []DiscoveryProblem
	// running are the canonical .vmx paths of the running VMs.
	running map[string]bool
}

// run runs cmd and fails on a non-zero exit status.
func (d *discovery) run(ctx context.Context, what, cmd string) (string, error) {
	res, err := d.r.Run(ctx, cmd)
	if err != nil {
		return "", fmt.Errorf("%s on %s: %w", what, d.inv.Host.Addr, err)
	}
	if res.ExitStatus != 0 {
		msg := strings.TrimSpace(string(res.Stderr) + " " + string(res.Stdout))
		cerr := esxi.Classify(msg)
		if cerr == nil {
			cerr = errors.New(clip(msg))
		}
		return string(res.Stdout), fmt.Errorf("%s on %s: %q exited with status %d: %w", what, d.inv.Host.Addr, cmd, res.ExitStatus, cerr)
	}
	return string(res.Stdout), nil
}

func (d *discovery) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.log.Warn(msg)
	d.inv.Warnings = append(d.inv.Warnings, msg)
}

func (d *discovery) host(ctx context.Context) error {
	out, err := d.run(ctx, "read the ESXi version", esxi.CmdVMwareVersion())
	if err != nil {
		return err
	}
	if d.inv.Host.Version, err = esxi.ParseVMwareVersion(out); err != nil {
		return fmt.Errorf("parse the ESXi version of %s: %w", d.inv.Host.Addr, err)
	}
	if cmd, err := esxi.CmdEsxcli(esxi.FormatCSV, "system", "hostname", "get"); err == nil {
		if out, err := d.run(ctx, "read the host name", cmd); err != nil {
			d.warn("host name unknown: %v", err)
		} else if recs, err := esxi.ParseCSV(out); err != nil {
			d.warn("host name unknown: %v", err)
		} else if h, err := esxi.SystemHostname(recs); err == nil {
			d.inv.Host.Hostname = h.FQDN
			if h.FQDN == "" {
				d.inv.Host.Hostname = h.HostName
			}
		}
	}
	cmd, err := esxi.CmdEsxcli(esxi.FormatCSV, "storage", "filesystem", "list")
	if err != nil {
		return err
	}
	out, err = d.run(ctx, "list the datastores", cmd)
	if err != nil {
		return err
	}
	recs, err := esxi.ParseCSV(out)
	if err != nil {
		return fmt.Errorf("parse the datastore list of %s: %w", d.inv.Host.Addr, err)
	}
	if d.inv.Datastores, err = esxi.Filesystems(recs); err != nil {
		return fmt.Errorf("parse the datastore list of %s: %w", d.inv.Host.Addr, err)
	}
	d.devices(ctx)
	return nil
}

// devices lists NAS mounts, storage devices and USB devices; a failure
// is a warning, not the end of discovery.
func (d *discovery) devices(ctx context.Context) {
	if out, err := d.run(ctx, "list NAS datastores", esxi.CmdNASList()); err != nil {
		d.warn("NAS datastores unknown: %v", err)
	} else if d.inv.NFS, err = esxi.ParseNASList(out); err != nil {
		d.warn("NAS datastores unknown: %v", err)
	}
	// The default format: its title line is the device name, which the
	// structured formats (csv, xml) do not carry on every version.
	if cmd, err := esxi.CmdEsxcli(esxi.FormatDefault, "storage", "core", "device", "list"); err == nil {
		if out, err := d.run(ctx, "list storage devices", cmd); err != nil {
			d.warn("storage devices unknown: %v", err)
		} else if recs, err := esxi.ParseEsxcliText(out); err != nil {
			d.warn("storage devices unknown: %v", err)
		} else if d.inv.Devices, err = esxi.CoreDevices(recs); err != nil {
			d.warn("storage devices unknown: %v", err)
		}
	}
	if out, err := d.run(ctx, "list USB devices", esxi.CmdLsusb()); err != nil {
		d.warn("USB devices unknown: %v", err)
	} else if d.inv.USB, err = esxi.ParseLsusb(out); err != nil {
		d.warn("USB devices unknown: %v", err)
	}
}

// Device returns the storage device named id (its device name or one of
// its other names, such as a vml.* id).
func (inv *Inventory) Device(id string) (esxi.CoreDevice, bool) {
	for _, dev := range inv.Devices {
		if dev.Device == id {
			return dev, true
		}
		for _, o := range dev.OtherUIDs {
			if o == id {
				return dev, true
			}
		}
	}
	return esxi.CoreDevice{}, false
}

// registered places every vmid getallvms names: its rows, and the numbers
// that start lines it could not split, which vim-cmd is asked about so a
// VM with an odd name is not lost.
func (d *discovery) registered(ctx context.Context) error {
	out, err := d.run(ctx, "list the registered VMs", esxi.CmdGetAllVMs())
	if err != nil {
		return err
	}
	list, err := esxi.ParseGetAllVMs(out)
	if err != nil {
		return fmt.Errorf("parse the VM list of %s: %w", d.inv.Host.Addr, err)
	}
	rows := map[int]bool{}
	for _, id := range list.IDs() {
		rows[id] = true
	}
	for _, id := range list.Named {
		if err := ctx.Err(); err != nil {
			return err
		}
		if invalid(list, id) {
			d.unplace(UnplacedVM{ID: id, Reason: "vim-cmd skips it as invalid (\"Skipping invalid VM\"): its configuration cannot be read on the host; its files may be among the unregistered VMs (--unregistered)"})
			continue
		}
		vm, err := d.placeVM(ctx, id)
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, esxi.ErrVMNotFound) && !rows[id]:
			// A number that starts a line of text (an annotation), not a vmid.
			d.log.Debug("not a vmid", "number", id, "err", err)
		case errors.Is(err, esxi.ErrVMNotFound):
			d.warn("vmid %d was listed by getallvms but vim-cmd no longer finds it (unregistered during discovery?); its files, if still there, are among the unregistered VMs", id)
		case err != nil:
			d.problem(DiscoveryProblem{VMID: id, Source: "vim-cmd vmsvc/getallvms", Reason: err.Error()})
		default:
			if err := d.registeredVM(ctx, vm); err != nil {
				d.unplace(UnplacedVM{ID: id, Name: vm.Name, VMX: vm.VMX, Reason: err.Error()})
				continue
			}
			d.inv.VMs = append(d.inv.VMs, vm)
		}
	}
	return nil
}

// placeVM reads vmid id's configuration: its name and its .vmx.
func (d *discovery) placeVM(ctx context.Context, id int) (*VM, error) {
	out, err := d.run(ctx, "read a VM's configuration", esxi.CmdGetConfig(id))
	if err != nil {
		return nil, err
	}
	cf, err := esxi.ParseConfigFiles(out)
	if err != nil {
		return nil, fmt.Errorf("parse get.config: %w", err)
	}
	vmxPath, err := esxi.DatastoreHostPath(cf.VMPathName, d.inv.Datastores)
	if err != nil {
		return nil, fmt.Errorf("parse the .vmx location %q: %w", cf.VMPathName, err)
	}
	return &VM{ID: id, Name: cf.Name, Registered: true, VMX: vmxPath, Dir: path.Dir(vmxPath)}, nil
}

// registeredVM reads a placed VM's power state, snapshots and files.
func (d *discovery) registeredVM(ctx context.Context, vm *VM) error {
	out, err := d.run(ctx, "read a VM's power state", esxi.CmdPowerGetState(vm.ID))
	if err != nil {
		return err
	}
	if vm.Power, err = esxi.ParsePowerState(out); err != nil {
		return fmt.Errorf("parse the power state: %w", err)
	}
	out, err = d.run(ctx, "read a VM's snapshot tree", esxi.CmdSnapshotGet(vm.ID))
	if err != nil {
		vm.Warnings = append(vm.Warnings, err.Error())
	} else if vm.Snapshots, err = esxi.ParseSnapshotTree(out); err != nil {
		vm.Warnings = append(vm.Warnings, "snapshot tree: "+err.Error())
	}
	return d.vmFiles(ctx, vm)
}

// vmFiles reads the .vmx, the disks' descriptors and lists the folder.
func (d *discovery) vmFiles(ctx context.Context, vm *VM) error {
	text, err := d.readSmall(ctx, vm.VMX)
	if err != nil {
		return err
	}
	vmx, err := esxi.ParseVMX(text)
	if err != nil {
		return fmt.Errorf("parse %s: %w", vm.VMX, err)
	}
	// The .vmx holds the name as the owner set it, with documented
	// escapes (|22); get.config's dump escapes by undocumented rules.
	if vmx.DisplayName != "" {
		vm.Name = vmx.DisplayName
	}
	vm.Warnings = append(vm.Warnings, vmx.Warnings...)
	for _, dev := range vmx.Disks() {
		if !dev.Active() {
			continue
		}
		disk := Disk{Node: dev.Node, Descriptor: esxi.DiskHostPath(vm.Dir, dev.FileName, d.inv.Datastores), Mode: dev.Mode, Independent: dev.Independent()}
		if err := d.describe(ctx, &disk); err != nil {
			vm.Warnings = append(vm.Warnings, fmt.Sprintf("disk %s (%s): %v", dev.Node, disk.Descriptor, err))
		}
		vm.Disks = append(vm.Disks, disk)
	}
	cmd, err := esxi.CmdLsVMFolder(vm.Dir)
	if err != nil {
		return err
	}
	out, err := d.run(ctx, "list a VM folder", cmd)
	if err != nil {
		return err
	}
	entries, err := esxi.ParseFolderListing(out)
	if err != nil {
		return fmt.Errorf("parse the listing of %s: %w", vm.Dir, err)
	}
	for _, e := range entries {
		if !e.Mode.IsRegular() {
			continue
		}
		vm.Files = append(vm.Files, File{Name: e.Name, Path: esxi.JoinHostPath(vm.Dir, e.Name), Size: e.Size})
	}
	sort.Slice(vm.Files, func(i, j int) bool { return vm.Files[i].Name < vm.Files[j].Name })
	d.outsideFiles(ctx, vm)
	return nil
}

// outsideFiles adds the disk files that live outside the VM folder (a
// disk on another datastore, a descriptor in another VM's folder), found
// by listing their folders.
func (d *discovery) outsideFiles(ctx context.Context, vm *VM) {
	want := map[string][]string{} // folder -> names
	for _, disk := range vm.Disks {
		for _, l := range append(disk.Layers(), Layer{Descriptor: disk.Parent}) {
			for _, p := range append([]string{l.Descriptor}, l.Extents...) {
				if dir := path.Dir(p); p != "" && dir != vm.Dir && !slices.Contains(want[dir], path.Base(p)) {
					want[dir] = append(want[dir], path.Base(p))
				}
			}
		}
	}
	dirs := make([]string, 0, len(want))
	for dir := range want {
		dirs = append(dirs, dir)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		cmd, err := esxi.CmdLsVMFolder(dir)
		if err != nil {
			vm.Warnings = append(vm.Warnings, fmt.Sprintf("disk files in %s not collected: %v", dir, err))
			continue
		}
		out, err := d.run(ctx, "list a disk's folder", cmd)
		entries, perr := esxi.ParseFolderListing(out)
		if err != nil || perr != nil {
			vm.Warnings = append(vm.Warnings, fmt.Sprintf("disk files %q in %s not collected: listing failed: %v", want[dir], dir, errors.Join(err, perr)))
			continue
		}
		found := map[string]bool{}
		for _, e := range entries {
			for _, n := range want[dir] {
				if e.Name == n && !found[n] && e.Mode.IsRegular() {
					found[n] = true
					vm.Files = append(vm.Files, File{Name: n, Path: esxi.JoinHostPath(dir, n), Size: e.Size, Outside: true})
				}
			}
		}
		for _, n := range want[dir] {
			if !found[n] {
				vm.Warnings = append(vm.Warnings, fmt.Sprintf("disk file %s not found: not collected", esxi.JoinHostPath(dir, n)))
			}
		}
	}
}

// describe reads a disk's descriptor and, through each
// parentFileNameHint, every descriptor under it to the base, with their
// extents; and, for an RDM (which the base says it is), the device.
func (d *discovery) describe(ctx context.Context, disk *Disk) error {
	desc, err := d.descriptor(ctx, disk.Descriptor)
	if err != nil {
		return err
	}
	top := d.layer(disk.Descriptor, desc)
	disk.CreateType, disk.Extents = top.CreateType, top.Extents
	base, baseDesc := top, desc
	seen := map[string]bool{disk.Descriptor: true}
	for baseDesc.HasParent() && baseDesc.ParentFileNameHint != "" {
		p := esxi.DiskHostPath(path.Dir(base.Descriptor), baseDesc.ParentFileNameHint, d.inv.Datastores)
		switch {
		case seen[p]:
			return fmt.Errorf("the snapshot chain loops: %s names %s, already in the chain", base.Descriptor, p)
		case len(disk.Chain) == maxChain:
			return fmt.Errorf("the snapshot chain goes on past %d parents at %s: not followed further", maxChain, base.Descriptor)
		}
		seen[p] = true
		if disk.Parent == "" {
			disk.Parent = p // listed even if it cannot be read
		}
		if baseDesc, err = d.descriptor(ctx, p); err != nil {
			// The files under it are not known to be this disk's: a
			// mapping file among them would be taken for data.
			return fmt.Errorf("parent %s of %s: %w", p, base.Descriptor, err)
		}
		base = d.layer(p, baseDesc)
		disk.Chain = append(disk.Chain, base)
	}
	rdm := false
	for _, e := range baseDesc.Extents {
		rdm = rdm || e.Type == vmdk.ExtentVMFSRDM || e.Type == vmdk.ExtentVMFSRaw
	}
	if !rdm && !strings.Contains(strings.ToLower(baseDesc.CreateType), "rawdevicemap") {
		return nil
	}
	// The base says it is an RDM: reading its mapping file reads the LUN,
	// so it is planned as one even when the device stays unknown. Unless
	// the descriptor says which kind it is, it is taken as a physical
	// one, which no snapshot freezes.
	physical, virtual := strings.EqualFold(baseDesc.CreateType, "vmfsPassthroughRawDeviceMap"), strings.EqualFold(baseDesc.CreateType, "vmfsRawDeviceMap")
	disk.RDM = &esxi.RDMInfo{Passthrough: !virtual}
	info, err := d.queryRDM(ctx, base.Descriptor)
	if err != nil {
		disk.RDMUnresolved = err.Error()
		return fmt.Errorf("raw device mapping (createType %s): the device it maps is unknown: %w", baseDesc.CreateType, err)
	}
	disk.RDM.Disk, disk.RDM.Device = info.Disk, info.Device
	switch {
	case !physical && !virtual:
		disk.RDM.Passthrough = info.Passthrough // an RDM extent: vmkfstools says which
	case physical != info.Passthrough:
		disk.RDM.Passthrough = true
		return fmt.Errorf("raw device mapping: the descriptor says createType %s, vmkfstools -q says passthrough %v: taken as a physical RDM, which no snapshot freezes", baseDesc.CreateType, info.Passthrough)
	}
	return nil
}

// descriptor reads and parses the descriptor at host path p.
func (d *discovery) descriptor(ctx context.Context, p string) (*vmdk.Descriptor, error) {
	text, err := d.readSmall(ctx, p)
	if err != nil {
		return nil, err
	}
	return vmdk.ParseDescriptor(p, text)
}

// layer is descriptor desc at host path p with its extents' host paths.
func (d *discovery) layer(p string, desc *vmdk.Descriptor) Layer {
	l := Layer{Descriptor: p, CreateType: desc.CreateType}
	for _, e := range desc.Extents {
		if e.FileName != "" {
			l.Extents = append(l.Extents, esxi.DiskHostPath(path.Dir(p), e.FileName, d.inv.Datastores))
		}
	}
	return l
}

// queryRDM asks vmkfstools -q which device the raw device mapping p maps.
func (d *discovery) queryRDM(ctx context.Context, p string) (esxi.RDMInfo, error) {
	cmd, err := esxi.CmdVmkfstoolsQuery(p)
	if err != nil {
		return esxi.RDMInfo{}, err
	}
	out, err := d.run(ctx, "query a raw device mapping", cmd)
	if err != nil {
		return esxi.RDMInfo{}, err
	}
	info, err := esxi.ParseVmkfstoolsQuery(out)
	if err != nil {
		return esxi.RDMInfo{}, fmt.Errorf("parse vmkfstools -q: %w", err)
	}
	return info, nil
}

func (d *discovery) readSmall(ctx context.Context, p string) ([]byte, error) {
	cmd, err := esxi.CmdReadFile(p, maxSmallFile)
	if err != nil {
		return nil, err
	}
	out, err := d.run(ctx, "read "+p, cmd)
	if err != nil {
		return nil, err
	}
	return []byte(out), nil
}

// unregistered finds .vmx files on the VMFS datastores that no registered
// VM (collectable or not) and no running VM uses.
func (d *discovery) unregistered(ctx context.Context) error {
	known := d.placedVMX()
	for vmx := range d.running {
		known[vmx] = true
	}
	for _, ds := range d.inv.Datastores {
		if !strings.HasPrefix(ds.Type, "VMFS") || ds.VolumeName == "" || !ds.Mounted {
			continue
		}
		root := esxi.VolumePath(ds.VolumeName, "")
		cmd, err := esxi.CmdFindVMX(root, 2)
		if err != nil {
			d.warn("datastore %q: %v", ds.VolumeName, err)
			continue
		}
		out, err := d.run(ctx, "find .vmx files", cmd)
		if err != nil {
			d.warn("datastore %q: %v", ds.VolumeName, err)
		}
		paths, perr := esxi.ParseFindOutput(out)
		if perr != nil {
			d.warn("datastore %q: %v", ds.VolumeName, perr)
			continue
		}
		for _, p := range paths {
			if known[esxi.CanonicalHostPath(p, d.inv.Datastores)] {
				continue
			}
			known[esxi.CanonicalHostPath(p, d.inv.Datastores)] = true
			vm := &VM{Name: strings.TrimSuffix(path.Base(p), ".vmx"), VMX: p, Dir: path.Dir(p)}
			if err := d.vmFiles(ctx, vm); err != nil {
				d.warn("unregistered VM %s: %v", p, err)
				continue
			}
			d.inv.VMs = append(d.inv.VMs, vm)
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
