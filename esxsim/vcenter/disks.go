package vcenter

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/esxsim"
)

// attachDisks puts the VM's disks on its SCSI controller as the host runs
// them: the backing is the top of each chain, its parents the rest.
func (v *VCenter) attachDisks(vm *simulator.VirtualMachine, lv *labVM, names map[string]string, st esxsim.VMState, files *vmFiles) error {
	var ctrl *types.VirtualSCSIController
	for _, d := range vm.Config.Hardware.Device {
		if c, ok := d.(types.BaseVirtualSCSIController); ok {
			ctrl = c.GetVirtualSCSIController()
			break
		}
	}
	if ctrl == nil {
		return fmt.Errorf("no SCSI controller")
	}
	sc := lv.host.h.Scenario()
	used := map[int32]bool{ctrl.ScsiCtlrUnitNumber: true}
	for i, ds := range st.Disks {
		spec, ok := diskSpec(lv.spec, ds.Node)
		if !ok {
			return fmt.Errorf("disk %s not in the scenario", ds.Node)
		}
		unit := unitOf(ds.Node, used)
		used[unit] = true
		key := int32(2000 + i)
		size := int64(spec.Size)
		if dev := device(sc, spec.Device); dev != nil {
			size = int64(dev.Size)
		}
		disk := &types.VirtualDisk{
			VirtualDevice: types.VirtualDevice{
				Key: key, ControllerKey: ctrl.Key, UnitNumber: &unit,
				Backing:    v.backing(spec, ds.Chain, names, files, sc),
				DeviceInfo: &types.Description{Label: fmt.Sprintf("Hard disk %d", i+1), Summary: fmt.Sprintf("%d KB", size/1024)},
			},
			CapacityInKB: size / 1024, CapacityInBytes: size,
		}
		vm.Config.Hardware.Device = append(vm.Config.Hardware.Device, disk)
		ctrl.Device = append(ctrl.Device, key)
		files.addDisk(key, ds.Chain)
	}
	vm.Summary.Config.NumVirtualDisks = int32(len(st.Disks))
	return nil
}

// backing is a disk's file backing for chain (top first): flat disks and
// their deltas, or a raw device mapping.
func (v *VCenter) backing(spec esxsim.DiskSpec, chain []string, names map[string]string, files *vmFiles, sc *esxsim.Scenario) types.BaseVirtualDeviceBackingInfo {
	mode := string(types.VirtualDiskModePersistent)
	switch spec.Kind {
	case "independent-persistent", "rdmp":
		mode = string(types.VirtualDiskModeIndependent_persistent)
	case "independent-nonpersistent":
		mode = string(types.VirtualDiskModeIndependent_nonpersistent)
	}
	file := func(abs string) types.VirtualDeviceFileBackingInfo {
		p, uuid := dsPath(names, abs)
		fb := types.VirtualDeviceFileBackingInfo{FileName: p}
		if ref, ok := v.dss[uuid]; ok {
			fb.Datastore = &ref
		}
		return fb
	}
	if spec.Kind == "rdm" || spec.Kind == "rdmp" {
		compat, dev := "virtualMode", device(sc, spec.Device)
		if spec.Kind == "rdmp" {
			compat = "physicalMode"
		}
		var top, cur *types.VirtualDiskRawDiskMappingVer1BackingInfo
		for _, p := range chain {
			b := &types.VirtualDiskRawDiskMappingVer1BackingInfo{VirtualDeviceFileBackingInfo: file(p), CompatibilityMode: compat, DiskMode: mode}
			if dev != nil {
				b.DeviceName, b.LunUuid = "/vmfs/devices/disks/"+dev.VML, lunUUID(dev.VML)
			}
			if top == nil {
				top = b
			} else {
				cur.Parent = b
			}
			cur = b
		}
		return top
	}
	var top, cur *types.VirtualDiskFlatVer2BackingInfo
	for _, p := range chain {
		b := &types.VirtualDiskFlatVer2BackingInfo{VirtualDeviceFileBackingInfo: file(p), DiskMode: mode,
			ThinProvisioned: types.NewBool(spec.Kind == "thin"), EagerlyScrub: types.NewBool(false),
			Split: types.NewBool(false), WriteThrough: types.NewBool(false)}
		switch extentKind(files.extentOf(p)) {
		case "-sesparse":
			b.DeltaDiskFormat = string(types.VirtualDiskDeltaDiskFormatSeSparseFormat)
		case "-delta":
			b.DeltaDiskFormat = string(types.VirtualDiskDeltaDiskFormatRedoLogFormat)
		}
		if top == nil {
			top = b
		} else {
			cur.Parent = b
		}
		cur = b
	}
	return top
}

// diskSpec finds a VM's disk by its node (scsi0:1).
func diskSpec(vm esxsim.VMSpec, node string) (esxsim.DiskSpec, bool) {
	for _, d := range vm.Disks {
		if d.Node == node {
			return d, true
		}
	}
	return esxsim.DiskSpec{}, false
}

// unitOf is the unit number of a scsiN:U node, or the first free one for
// a node of another kind (the .vmx has one LSI Logic controller).
func unitOf(node string, used map[int32]bool) int32 {
	if _, u, ok := strings.Cut(node, ":"); ok && strings.HasPrefix(node, "scsi") {
		if n, err := strconv.Atoi(u); err == nil && !used[int32(n)] {
			return int32(n)
		}
	}
	for n := int32(0); ; n++ {
		if !used[n] {
			return n
		}
	}
}

// device finds a scenario device by id or vml name.
func device(sc *esxsim.Scenario, id string) *esxsim.DeviceSpec {
	if id == "" {
		return nil
	}
	for i := range sc.Devices {
		if d := &sc.Devices[i]; d.ID == id || d.VML == id {
			return d
		}
	}
	return nil
}

// lunUUID is the LUN UUID vSphere derives from a vml name's payload.
func lunUUID(vml string) string {
	return strings.TrimPrefix(vml, "vml.")
}
