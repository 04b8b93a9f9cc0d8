package vcenter

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/esxsim"
)

// postScenarioEvents puts the scenario's events in the event history,
// each dated its ago: before the lab started.
func (v *VCenter) postScenarioEvents(ctx *simulator.Context) {
	for _, e := range v.spec.Events {
		ev := v.scenarioEvent(e)
		v.post(ctx, e.User, ev)
		// PostEvent stamps the time it is posted; the history has its own.
		ev.GetEvent().CreatedTime = v.started.Add(-e.Ago)
	}
}

func (v *VCenter) scenarioEvent(e esxsim.EventSpec) types.BaseEvent {
	base := types.Event{Datacenter: &types.DatacenterEventArgument{
		EntityEventArgument: types.EntityEventArgument{Name: v.spec.Datacenter}, Datacenter: v.dc,
	}}
	if lh := v.hosts[e.Host]; lh != nil {
		base.Host = &types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: e.Host}, Host: lh.ref}
	}
	if lv := v.vms[e.VM]; lv != nil {
		base.Vm = &types.VmEventArgument{EntityEventArgument: types.EntityEventArgument{Name: e.VM}, Vm: lv.ref}
		if base.Host == nil {
			base.Host = &types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: lv.host.h.Hostname()}, Host: lv.host.ref}
		}
	}
	switch e.Kind {
	case "login":
		return &types.UserLoginSessionEvent{SessionEvent: types.SessionEvent{Event: base}, IpAddress: e.IP, UserAgent: "VMware vSphere Client", Locale: "en"}
	case "logout":
		return &types.UserLogoutSessionEvent{SessionEvent: types.SessionEvent{Event: base}, IpAddress: e.IP, UserAgent: "VMware vSphere Client"}
	}
	// vcsim's alarms look up the event's object: name the most specific.
	obj, name := v.dc, v.spec.Datacenter
	switch {
	case base.Vm != nil:
		obj, name = base.Vm.Vm, base.Vm.Name
	case base.Host != nil:
		obj, name = base.Host.Host, base.Host.Name
	}
	ex := &types.EventEx{Event: base, EventTypeId: e.ID, Severity: "info", Message: e.Message,
		ObjectId: obj.Value, ObjectType: obj.Type, ObjectName: name}
	ex.FullFormattedMessage = e.Message
	return ex
}

// postSSHEvent records that a host's SSH service started or stopped, as
// ESXi reports it to vCenter (esx.audit.ssh.enabled / disabled).
func (v *VCenter) postSSHEvent(ctx *simulator.Context, lh *labHost, enabled bool) {
	id, msg := "esx.audit.ssh.disabled", "SSH access has been disabled."
	if enabled {
		id, msg = "esx.audit.ssh.enabled", "SSH access has been enabled."
	}
	ev := &types.EventEx{
		Event: types.Event{
			Host:       &types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: lh.h.Hostname()}, Host: lh.ref},
			Datacenter: &types.DatacenterEventArgument{EntityEventArgument: types.EntityEventArgument{Name: v.spec.Datacenter}, Datacenter: v.dc},
		},
		EventTypeId: id, Severity: "info", Message: msg, ObjectId: lh.ref.Value, ObjectType: "HostSystem", ObjectName: lh.h.Hostname(),
	}
	ev.FullFormattedMessage = msg
	em := ctx.Map.EventManager()
	ctx.WithLock(em, func() { em.PostEvent(ctx, &types.PostEvent{EventToPost: ev}) })
}

// post posts an event as user: PostEvent takes the user from the session.
func (v *VCenter) post(ctx *simulator.Context, user string, ev types.BaseEvent) {
	c := *ctx
	if ctx.Session != nil {
		s := *ctx.Session
		s.UserName = user
		c.Session = &s
	} else {
		c.Session = &simulator.Session{UserSession: types.UserSession{UserName: user}}
	}
	em := ctx.Map.EventManager()
	c.WithLock(em, func() { em.PostEvent(&c, &types.PostEvent{EventToPost: ev}) })
}
