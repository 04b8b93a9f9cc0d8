package vcenter

import (
	"fmt"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/esxsim"
)

// accessManager is a host's HostAccessManager, which vcsim lacks: its
// lockdown mode is the simulated host's, and changing it changes whom the
// host lets log in over SSH.
type accessManager struct {
	mo.HostAccessManager
	vc *VCenter
	lh *labHost
}

// ChangeLockdownMode enters or leaves lockdown mode.
func (m *accessManager) ChangeLockdownMode(ctx *simulator.Context, req *types.ChangeLockdownMode) soap.HasFault {
	body := &methods.ChangeLockdownModeBody{}
	mode, ok := map[types.HostLockdownMode]string{
		types.HostLockdownModeLockdownDisabled: esxsim.LockdownDisabled,
		types.HostLockdownModeLockdownNormal:   esxsim.LockdownNormal,
		types.HostLockdownModeLockdownStrict:   esxsim.LockdownStrict,
	}[req.Mode]
	if !ok {
		body.Fault_ = simulator.Fault(fmt.Sprintf("lockdown mode %q", req.Mode), &types.InvalidArgument{InvalidProperty: "mode"})
		return body
	}
	if err := m.lh.h.SetLockdown(userOf(ctx), mode); err != nil {
		body.Fault_ = simulator.Fault(err.Error(), &types.HostConfigFault{})
		return body
	}
	m.vc.publishLockdown(ctx, m.lh)
	body.Res = &types.ChangeLockdownModeResponse{}
	return body
}

// QueryLockdownExceptions lists the users lockdown mode lets in.
func (m *accessManager) QueryLockdownExceptions(ctx *simulator.Context, req *types.QueryLockdownExceptions) soap.HasFault {
	return &methods.QueryLockdownExceptionsBody{Res: &types.QueryLockdownExceptionsResponse{
		Returnval: append([]string(nil), m.lh.h.Scenario().Host.LockdownExceptions...),
	}}
}

// publishLockdown sets the host's lockdown mode on its access manager and
// its HostSystem (config.lockdownMode, config.adminDisabled).
func (v *VCenter) publishLockdown(ctx *simulator.Context, lh *labHost) {
	mode := lockdownMode(lh.h.Lockdown())
	acc := ctx.Map.Get(lh.access).(*accessManager)
	ctx.WithLock(acc, func() {
		if acc.LockdownMode != mode {
			ctx.Update(acc, []types.PropertyChange{{Name: "lockdownMode", Val: mode}})
		}
	})
	hs := ctx.Map.Get(lh.ref).(*simulator.HostSystem)
	ctx.WithLock(hs, func() {
		if hs.Config.LockdownMode != mode {
			ctx.Update(hs, []types.PropertyChange{
				{Name: "config.lockdownMode", Val: mode},
				{Name: "config.adminDisabled", Val: mode != types.HostLockdownModeLockdownDisabled},
			})
		}
	})
}

func lockdownMode(m string) types.HostLockdownMode {
	switch m {
	case esxsim.LockdownNormal:
		return types.HostLockdownModeLockdownNormal
	case esxsim.LockdownStrict:
		return types.HostLockdownModeLockdownStrict
	}
	return types.HostLockdownModeLockdownDisabled
}
