package vcenter

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/esxsim"
)

// snapshotTree gives the VM the host's snapshot tree: one
// VirtualMachineSnapshot object per snapshot, the tree with names,
// descriptions, creation times, power states and the current snapshot,
// and the snapshots' state files in layoutEx. It is built here rather
// than with vcsim's CreateSnapshot, which cannot date a snapshot or name
// its files as the host did.
func (v *VCenter) snapshotTree(ctx *simulator.Context, vm *simulator.VirtualMachine, st esxsim.VMState, files *vmFiles) {
	if len(st.Snapshots) == 0 {
		return
	}
	refs := map[int]types.ManagedObjectReference{}
	objs := map[int]*simulator.VirtualMachineSnapshot{}
	for _, s := range st.Snapshots {
		snap := &simulator.VirtualMachineSnapshot{}
		snap.Vm = vm.Self
		snap.Config = *vm.Config
		ctx.Map.Put(snap)
		refs[s.ID], objs[s.ID] = snap.Self, snap
		if p := objs[s.Parent]; p != nil {
			p.ChildSnapshot = append(p.ChildSnapshot, snap.Self)
		}
		memory := int32(-1)
		if len(s.Files) > 1 {
			memory = files.fileKey(s.Files[1])
		}
		files.snaps = append(files.snaps, types.VirtualMachineFileLayoutExSnapshotLayout{
			Key: snap.Self, DataKey: files.fileKey(s.Files[0]), MemoryKey: memory,
		})
	}
	var tree func(parent int) []types.VirtualMachineSnapshotTree
	tree = func(parent int) []types.VirtualMachineSnapshotTree {
		var out []types.VirtualMachineSnapshotTree
		for _, s := range st.Snapshots {
			if s.Parent != parent {
				continue
			}
			out = append(out, types.VirtualMachineSnapshotTree{
				Snapshot: refs[s.ID], Vm: vm.Self, Name: s.Name, Description: s.Description, Id: int32(s.ID),
				CreateTime: s.Created, State: snapshotPower(s.PowerState), Quiesced: s.Quiesced,
				ReplaySupported: types.NewBool(false), ChildSnapshotList: tree(s.ID),
			})
		}
		return out
	}
	info := &types.VirtualMachineSnapshotInfo{RootSnapshotList: tree(0)}
	if ref, ok := refs[st.Current]; ok {
		info.CurrentSnapshot = &ref
	}
	vm.Snapshot = info
	vm.RootSnapshot = nil
	for _, r := range info.RootSnapshotList {
		vm.RootSnapshot = append(vm.RootSnapshot, r.Snapshot)
	}
}

// snapshotPower maps the .vmsd's power state to the API's.
func snapshotPower(s string) types.VirtualMachinePowerState {
	switch s {
	case "powered on":
		return types.VirtualMachinePowerStatePoweredOn
	case "suspended":
		return types.VirtualMachinePowerStateSuspended
	}
	return types.VirtualMachinePowerStatePoweredOff
}
