package vcenter

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// sync reads what may change on the hosts behind the vCenter's back (a VM
// powered on in the shell, SSH stopped by ESXiShellTimeOut, lockdown
// changed) into the inventory, as a host's agent reports to vCenter. It
// runs before every property read, so a read sees the hosts as they are;
// a client blocked in WaitForUpdates sees such a change at its next call.
func (v *VCenter) sync(ctx *simulator.Context) {
	for _, lh := range v.hostList() {
		v.syncHost(ctx, lh)
	}
}

func (v *VCenter) syncHost(ctx *simulator.Context, lh *labHost) {
	st := lh.h.SSH()
	svc := ctx.Map.Get(lh.services).(*serviceSystem)
	var list []types.HostService
	stale := false
	ctx.WithLock(svc, func() {
		list = append(list, svc.ServiceInfo.Service...)
		for i := range list {
			if list[i].Key == sshService && (list[i].Running != st.Running || list[i].Policy != st.Policy) {
				list[i].Running, list[i].Policy = st.Running, st.Policy
				stale = true
			}
		}
	})
	if stale {
		v.publishServices(ctx, lh, list)
	}
	v.publishLockdown(ctx, lh)
	power := map[string]types.VirtualMachinePowerState{}
	for _, vs := range lh.h.State().VMs {
		power[vs.Name] = vmPower(vs.Power)
	}
	for name, lv := range v.vms {
		if lv.host != lh {
			continue
		}
		want, ok := power[name]
		if !ok {
			continue
		}
		vm := ctx.Map.Get(lv.ref).(*simulator.VirtualMachine)
		ctx.WithLock(vm, func() {
			if vm.Runtime.PowerState != want {
				ctx.Update(vm, []types.PropertyChange{
					{Name: "runtime.powerState", Val: want},
					{Name: "summary.runtime.powerState", Val: want},
				})
			}
		})
	}
}

// vmPower maps esxsim's power state to the API's.
func vmPower(p string) types.VirtualMachinePowerState {
	switch p {
	case "on":
		return types.VirtualMachinePowerStatePoweredOn
	case "suspended":
		return types.VirtualMachinePowerStateSuspended
	}
	return types.VirtualMachinePowerStatePoweredOff
}
