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

// The service keys vSphere gives the SSH daemon and the ESXi Shell.
const (
	sshService   = "TSM-SSH"
	shellService = "TSM"
)

// serviceSystem is a host's HostServiceSystem, which vcsim lacks. Its
// TSM-SSH is the simulated host's SSH daemon: StartService opens the
// host's SSH port, StopService closes it, UpdateServicePolicy is kept by
// the host. Other services only change state in the list.
//
// Lockdown: real vSphere starts TSM-SSH on a locked-down host (the
// service is independent of lockdown mode; it is root's login that the
// host then refuses). The lab refuses the start instead, with the fault
// StartService declares for a host that will not be configured
// (HostConfigFault), so a tool that tries gets a clear answer and the
// host is left as found, as esxsink's own policy leaves it. Stopping and
// policy changes are allowed in lockdown.
type serviceSystem struct {
	mo.HostServiceSystem
	vc *VCenter
	lh *labHost
}

// StartService starts a service.
func (s *serviceSystem) StartService(ctx *simulator.Context, req *types.StartService) soap.HasFault {
	body := &methods.StartServiceBody{}
	if f := s.change(ctx, req.Id, opStart, ""); f != nil {
		body.Fault_ = f
		return body
	}
	body.Res = &types.StartServiceResponse{}
	return body
}

// StopService stops a service.
func (s *serviceSystem) StopService(ctx *simulator.Context, req *types.StopService) soap.HasFault {
	body := &methods.StopServiceBody{}
	if f := s.change(ctx, req.Id, opStop, ""); f != nil {
		body.Fault_ = f
		return body
	}
	body.Res = &types.StopServiceResponse{}
	return body
}

// RestartService stops and starts a service.
func (s *serviceSystem) RestartService(ctx *simulator.Context, req *types.RestartService) soap.HasFault {
	body := &methods.RestartServiceBody{}
	f := s.change(ctx, req.Id, opStop, "")
	if f == nil {
		f = s.change(ctx, req.Id, opStart, "")
	}
	if f != nil {
		body.Fault_ = f
		return body
	}
	body.Res = &types.RestartServiceResponse{}
	return body
}

// UpdateServicePolicy sets a service's startup policy.
func (s *serviceSystem) UpdateServicePolicy(ctx *simulator.Context, req *types.UpdateServicePolicy) soap.HasFault {
	body := &methods.UpdateServicePolicyBody{}
	switch req.Policy {
	case esxsim.PolicyOn, esxsim.PolicyOff, esxsim.PolicyAutomatic:
	default:
		body.Fault_ = simulator.Fault(fmt.Sprintf("policy %q: want on, off or automatic", req.Policy), &types.InvalidArgument{InvalidProperty: "policy"})
		return body
	}
	if f := s.change(ctx, req.Id, opPolicy, req.Policy); f != nil {
		body.Fault_ = f
		return body
	}
	body.Res = &types.UpdateServicePolicyResponse{}
	return body
}

// RefreshServices reads the services' state from the host again.
func (s *serviceSystem) RefreshServices(ctx *simulator.Context, req *types.RefreshServices) soap.HasFault {
	s.vc.syncHost(ctx, s.lh)
	return &methods.RefreshServicesBody{Res: &types.RefreshServicesResponse{}}
}

// What a call does to a service.
const (
	opStart = iota
	opStop
	opPolicy
)

// change applies op to service id (on the host itself for TSM-SSH), then
// publishes the host's service list.
func (s *serviceSystem) change(ctx *simulator.Context, id string, op int, policy string) *soap.Fault {
	found := false
	for _, svc := range s.ServiceInfo.Service {
		found = found || svc.Key == id
	}
	if !found {
		return simulator.Fault(fmt.Sprintf("service %q not found", id), &types.NotFound{})
	}
	h := s.lh.h
	if op == opStart && (id == sshService || id == shellService) && h.Lockdown() != esxsim.LockdownDisabled {
		msg := fmt.Sprintf("host %s is in lockdown mode (%s): the lab does not start %s on a locked-down host", h.Hostname(), h.Lockdown(), id)
		return simulator.Fault(msg, &types.HostConfigFault{VimFault: types.VimFault{MethodFault: types.MethodFault{
			FaultMessage: []types.LocalizableMessage{{Key: "com.esxsink.lab.lockdown", Message: msg}},
		}}})
	}
	by := userOf(ctx)
	if id == sshService {
		var err error
		switch op {
		case opStart:
			err = h.StartSSH(by)
		case opStop:
			err = h.StopSSH(by)
		case opPolicy:
			err = h.SetSSHPolicy(by, policy)
		}
		if err != nil {
			return simulator.Fault(err.Error(), &types.HostConfigFault{})
		}
	}
	list := append([]types.HostService(nil), s.ServiceInfo.Service...)
	for i := range list {
		if list[i].Key != id {
			continue
		}
		switch op {
		case opStart:
			list[i].Running = true
		case opStop:
			list[i].Running = false
		case opPolicy:
			list[i].Policy = policy
		}
	}
	s.vc.publishServices(ctx, s.lh, list)
	if id == sshService && op != opPolicy {
		s.vc.postSSHEvent(ctx, s.lh, op == opStart)
	}
	return nil
}

// publishServices sets a host's service list on its service system (the
// caller holds its lock) and its HostSystem, so property collectors and
// waiting clients see the change.
func (v *VCenter) publishServices(ctx *simulator.Context, lh *labHost, list []types.HostService) {
	svc := ctx.Map.Get(lh.services).(*serviceSystem)
	ctx.WithLock(svc, func() {
		ctx.Update(svc, []types.PropertyChange{{Name: "serviceInfo", Val: types.HostServiceInfo{Service: list}}})
	})
	hs := ctx.Map.Get(lh.ref).(*simulator.HostSystem)
	ctx.WithLock(hs, func() {
		ctx.Update(hs, []types.PropertyChange{{Name: "config.service", Val: &types.HostServiceInfo{Service: append([]types.HostService(nil), list...)}}})
	})
}

// userOf is the session's user, who the host's footprint says changed
// its services.
func userOf(ctx *simulator.Context) string {
	if ctx.Session != nil && ctx.Session.UserName != "" {
		return ctx.Session.UserName
	}
	return "vpxuser"
}
