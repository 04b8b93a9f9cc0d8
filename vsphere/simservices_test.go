package vsphere_test

import (
	"slices"
	"testing"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// hostServiceSystem is the HostServiceSystem vcsim lacks (its hosts name
// one in configManager.serviceSystem, but none is registered). Like a
// real host's, it starts and stops services and sets their policy in the
// host's own configuration, so that the inventory sees what it did; it
// can be told to refuse, as a host with a broken hostd does.
type hostServiceSystem struct {
	mo.HostServiceSystem
	host   *simulator.HostSystem
	refuse bool
	// calls counts the changing calls, to prove a no-op called nothing.
	calls int
}

// addServiceSystems gives every host of the simulator a service system
// of its own.
func addServiceSystems(t *testing.T, reg *simulator.Registry) map[string]*hostServiceSystem {
	t.Helper()
	out := map[string]*hostServiceSystem{}
	for _, e := range reg.All("HostSystem") {
		h := e.(*simulator.HostSystem)
		ss := &hostServiceSystem{host: h}
		ss.Self = types.ManagedObjectReference{Type: "HostServiceSystem", Value: "serviceSystem-" + h.Self.Value}
		ss.ServiceInfo = *h.Config.Service
		reg.Put(ss)
		ref := ss.Self
		h.ConfigManager.ServiceSystem = &ref
		out[h.Name] = ss
	}
	return out
}

// change applies f to service id in the host's configuration.
func (s *hostServiceSystem) change(ctx *simulator.Context, id string, f func(*types.HostService)) *soap.Fault {
	if s.refuse {
		return simulator.Fault("hostd is not answering", &types.HostConfigFault{})
	}
	s.calls++
	var fault *soap.Fault
	ctx.WithLock(s.host, func() {
		services := slices.Clone(s.host.Config.Service.Service)
		i := slices.IndexFunc(services, func(sv types.HostService) bool { return sv.Key == id })
		if i < 0 {
			fault = simulator.Fault("", &types.NotFound{})
			return
		}
		f(&services[i])
		info := &types.HostServiceInfo{Service: services}
		ctx.Update(s.host, []types.PropertyChange{{Name: "config.service", Val: info}})
		s.ServiceInfo = *info
	})
	return fault
}

func (s *hostServiceSystem) StartService(ctx *simulator.Context, req *types.StartService) soap.HasFault {
	body := &methods.StartServiceBody{}
	if body.Fault_ = s.change(ctx, req.Id, func(sv *types.HostService) { sv.Running = true }); body.Fault_ == nil {
		body.Res = &types.StartServiceResponse{}
	}
	return body
}

func (s *hostServiceSystem) StopService(ctx *simulator.Context, req *types.StopService) soap.HasFault {
	body := &methods.StopServiceBody{}
	if body.Fault_ = s.change(ctx, req.Id, func(sv *types.HostService) { sv.Running = false }); body.Fault_ == nil {
		body.Res = &types.StopServiceResponse{}
	}
	return body
}

func (s *hostServiceSystem) UpdateServicePolicy(ctx *simulator.Context, req *types.UpdateServicePolicy) soap.HasFault {
	body := &methods.UpdateServicePolicyBody{}
	if body.Fault_ = s.change(ctx, req.Id, func(sv *types.HostService) { sv.Policy = req.Policy }); body.Fault_ == nil {
		body.Res = &types.UpdateServicePolicyResponse{}
	}
	return body
}

// RefreshServices has nothing to pick up: nobody changes this host
// behind the service system's back.
func (s *hostServiceSystem) RefreshServices(*simulator.Context, *types.RefreshServices) soap.HasFault {
	return &methods.RefreshServicesBody{Res: &types.RefreshServicesResponse{}}
}
