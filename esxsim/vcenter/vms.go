package vcenter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/esxsim"
)

// createVMs registers a host's VMs through vcsim's API: name, guest,
// CPUs, memory, BIOS UUID, the .vmx path the host has, an LSI Logic
// controller like the host's .vmx, and the host's power state.
func (v *VCenter) createVMs(ctx context.Context, c *vim25.Client, folders *object.DatacenterFolders, lh *labHost) error {
	host := object.NewHostSystem(c, lh.ref)
	pool, err := host.ResourcePool(ctx)
	if err != nil {
		return fmt.Errorf("host %s: resource pool: %w", lh.h.Hostname(), err)
	}
	power := map[string]string{}
	for _, st := range lh.h.State().VMs {
		power[st.Name] = st.Power
	}
	for i, spec := range lh.h.Scenario().VMs {
		if spec.Unregistered {
			continue
		}
		var devices object.VirtualDeviceList
		scsi, err := devices.CreateSCSIController("lsilogic")
		if err != nil {
			return err
		}
		devices = append(devices, scsi)
		config := types.VirtualMachineConfigSpec{
			Name: spec.Name, GuestId: spec.GuestOS, NumCPUs: int32(spec.CPUs), MemoryMB: int64(spec.MemoryMB),
			Annotation: spec.Annotation, Version: fmt.Sprintf("vmx-%02d", spec.HWVersion), Uuid: canonicalUUID(spec.UUID),
			// vcsim cannot parse every name a host allows: it makes its
			// files under plain names, dressVM sets the host's paths.
			Files: &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[%s] %s-vm%d/vm.vmx", plainName(datastoreUUID(lh.h.Scenario(), spec.Datastore)), lh.h.Hostname(), i)},
		}
		config.DeviceChange, err = devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
		if err != nil {
			return err
		}
		task, err := folders.VmFolder.CreateVM(ctx, config, pool, host)
		if err != nil {
			return fmt.Errorf("vm %s: %w", spec.Name, err)
		}
		res, err := task.WaitForResult(ctx, nil)
		if err != nil {
			return fmt.Errorf("vm %s: %w", spec.Name, err)
		}
		ref := res.Result.(types.ManagedObjectReference)
		vm := object.NewVirtualMachine(c, ref)
		if p := power[spec.Name]; p == "on" || p == "suspended" {
			if err := waitTask(ctx, vm.PowerOn); err != nil {
				return fmt.Errorf("vm %s: power on: %w", spec.Name, err)
			}
			if p == "suspended" {
				if err := waitTask(ctx, vm.Suspend); err != nil {
					return fmt.Errorf("vm %s: suspend: %w", spec.Name, err)
				}
			}
		}
		v.vms[spec.Name] = &labVM{host: lh, spec: spec, ref: ref}
	}
	return nil
}

func waitTask(ctx context.Context, f func(context.Context) (*object.Task, error)) error {
	t, err := f(ctx)
	if err != nil {
		return err
	}
	return t.Wait(ctx)
}

// dressVM gives a VM what the API could not: its disks as the host runs
// them (the chain's top and parents), its snapshot tree, and its files.
func (v *VCenter) dressVM(ctx *simulator.Context, lv *labVM) error {
	vm := ctx.Map.Get(lv.ref).(*simulator.VirtualMachine)
	st, ok := vmState(lv.host.h, lv.spec.Name)
	if !ok {
		return fmt.Errorf("not on host %s", lv.host.h.Hostname())
	}
	vm.Config.InstanceUuid = instanceUUID(lv.spec.UUID)
	vm.Summary.Config.InstanceUuid = vm.Config.InstanceUuid
	dir := fmt.Sprintf("[%s] %s/", lv.spec.Datastore, lv.spec.Folder)
	vm.Config.Files.VmPathName = dir + lv.spec.File
	vm.Summary.Config.VmPathName = vm.Config.Files.VmPathName
	vm.Config.Files.SnapshotDirectory, vm.Config.Files.SuspendDirectory, vm.Config.Files.LogDirectory = dir, dir, dir
	names := datastoreNames(lv.host.h.Scenario())
	files, err := v.layout(lv, names, st)
	if err != nil {
		return err
	}
	if err := v.attachDisks(vm, lv, names, st, files); err != nil {
		return err
	}
	v.snapshotTree(ctx, vm, st, files)
	vm.LayoutEx = files.layoutEx(v.started)
	return nil
}

// vmState is the host's state of the VM named name.
func vmState(h *esxsim.Host, name string) (esxsim.VMState, bool) {
	for _, st := range h.State().VMs {
		if st.Name == name && st.Registered {
			return st, true
		}
	}
	return esxsim.VMState{}, false
}

// datastoreNames maps /vmfs/volumes/UUID to [name], to turn the host's
// paths into datastore paths.
func datastoreNames(sc *esxsim.Scenario) map[string]string {
	out := map[string]string{}
	for _, d := range sc.Datastores {
		out[d.UUID] = d.Name
	}
	return out
}

// dsPath turns /vmfs/volumes/UUID/dir/file into "[name] dir/file"; ds
// is the datastore's name ("" for a path on no scenario datastore).
// dsPath is abs as the API names a datastore path ("[name] path") and
// the UUID of its datastore ("" when abs is on none).
func dsPath(names map[string]string, abs string) (path, uuid string) {
	rest, ok := strings.CutPrefix(abs, "/vmfs/volumes/")
	if !ok {
		return abs, ""
	}
	uuid, p, _ := strings.Cut(rest, "/")
	if n, ok := names[uuid]; ok {
		return fmt.Sprintf("[%s] %s", n, p), uuid
	}
	return abs, ""
}

// canonicalUUID turns the .vmx form of a UUID ("56 4d ... 9f-a0 ...")
// into the API's (564d...-....-....-....-............).
func canonicalUUID(spaced string) string {
	h := strings.NewReplacer(" ", "", "-", "").Replace(spaced)
	if len(h) != 32 {
		return spaced
	}
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// instanceUUID derives vCenter's instance UUID from the BIOS one, stable
// from run to run; vCenter's own start with 50.
func instanceUUID(spaced string) string {
	sum := sha256.Sum256([]byte("instance " + canonicalUUID(spaced)))
	return canonicalUUID("50" + hex.EncodeToString(sum[:])[2:32])
}
