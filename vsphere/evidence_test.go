package vsphere_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/vsphere"
)

// TestEventsAndTasks: what an administrator did through the API is in
// the events and tasks of the VM and host it was done to, within the
// period asked for, oldest first, in UTC; our own login is there with
// its session's hash.
func TestEventsAndTasks(t *testing.T) {
	s := startSim(t, simulator.VPX())
	c := s.dial(t, s.config())
	ctx := t.Context()
	reg := s.model.Map()
	svm := reg.Any("VirtualMachine").(*simulator.VirtualMachine)
	vmHost := reg.Get(*svm.Runtime.Host).(*simulator.HostSystem)
	var other *simulator.HostSystem
	for _, e := range reg.All("HostSystem") {
		if h := e.(*simulator.HostSystem); h != vmHost {
			other = h
		}
	}

	admin, err := newGovmomi(t, s)
	if err != nil {
		t.Fatal(err)
	}
	task, err := object.NewVirtualMachine(admin, svm.Self).PowerOff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// vcsim has no LogUserEvent: the note is posted as the event it makes.
	note := &types.GeneralUserEvent{GeneralEvent: types.GeneralEvent{
		Event:   types.Event{Host: &types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: other.Name}, Host: other.Self}},
		Message: "enabled SSH for maintenance",
	}}
	if err := event.NewManager(admin).PostEvent(ctx, note); err != nil {
		t.Fatal(err)
	}

	vmEvents, err := c.Events(ctx, vsphere.Scope{VMs: []string{svm.Self.Value}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(vmEvents, func(e vsphere.Event) bool {
		return e.Type == "VmPoweredOffEvent" && e.VMMoRef == svm.Self.Value && e.Host == vmHost.Name
	}) {
		t.Errorf("the VM's events lack its power-off: %+v", vmEvents)
	}
	if slices.ContainsFunc(vmEvents, func(e vsphere.Event) bool { return e.Type == "GeneralUserEvent" }) {
		t.Errorf("the VM's events hold another host's user event")
	}
	checkOrderedUTC(t, vmEvents)

	hostEvents, err := c.Events(ctx, vsphere.Scope{Hosts: []string{other.Name}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(hostEvents, func(e vsphere.Event) bool {
		return e.Type == "GeneralUserEvent" && strings.Contains(e.Message, "enabled SSH for maintenance") && e.Host == other.Name
	}) {
		t.Errorf("host %s's events lack the administrator's note: %+v", other.Name, hostEvents)
	}

	now := time.Now()
	old, err := c.Events(ctx, vsphere.Scope{VMs: []string{svm.Self.Value}, Period: vsphere.Period{Since: now.AddDate(0, 0, -60), Until: now.AddDate(0, 0, -31)}})
	if err != nil || len(old) != 0 {
		t.Errorf("events of a month ago, before the simulator existed: %d, %v", len(old), err)
	}

	// Our own login is an event; its session is ours in the session list.
	all, err := c.Events(ctx, vsphere.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := c.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(sessions, func(s vsphere.Session) bool { return s.Current })
	if i < 0 {
		t.Fatalf("no current session among %+v", sessions)
	}
	if !slices.ContainsFunc(all, func(e vsphere.Event) bool {
		return e.Type == "UserLoginSessionEvent" && e.SessionSHA256 == sessions[i].KeySHA256 && e.User == s.user
	}) {
		t.Errorf("no login event for our session %s among %d events", sessions[i].KeySHA256, len(all))
	}

	tasks, err := c.Tasks(ctx, vsphere.Scope{VMs: []string{svm.Self.Value}})
	if err != nil {
		t.Fatal(err)
	}
	checkSnakeCase(t, mustJSON(t, map[string]any{"events": all, "tasks": tasks, "sessions": sessions}))
	// vcsim names the task's user "vcsim" and its entity by moref; only
	// what it holds right is checked.
	j := slices.IndexFunc(tasks, func(tk vsphere.Task) bool { return tk.DescriptionID == "VirtualMachine.powerOff" })
	if j < 0 || tasks[j].EntityMoRef != svm.Self.Value || tasks[j].State != "success" || tasks[j].Reason != "user" || tasks[j].Queued.Location() != time.UTC {
		t.Errorf("the VM's tasks lack its power-off: %+v", tasks)
	}
}

func checkOrderedUTC(t *testing.T, events []vsphere.Event) {
	t.Helper()
	for i, e := range events {
		if e.Created.Location() != time.UTC {
			t.Errorf("event %d created %v, not UTC", e.Key, e.Created)
		}
		if i > 0 && e.Created.Before(events[i-1].Created) {
			t.Errorf("event %d is older than the one before it", e.Key)
		}
	}
}

// TestAccess: roles and permissions, a permission an attacker added
// included, named by entity and role.
func TestAccess(t *testing.T) {
	s := startSim(t, simulator.VPX())
	c := s.dial(t, s.config())
	ctx := t.Context()
	host := s.model.Map().Any("HostSystem").(*simulator.HostSystem)
	admin, err := newGovmomi(t, s)
	if err != nil {
		t.Fatal(err)
	}
	am := object.NewAuthorizationManager(admin)
	// vcsim keeps a permission as sent, where vCenter fills in its entity:
	// the entity is sent too.
	perm := types.Permission{Entity: &host.Self, Principal: "ESX Admins", Group: true, RoleId: -1, Propagate: true}
	if err := am.SetEntityPermissions(ctx, host.Self, []types.Permission{perm}); err != nil {
		t.Fatal(err)
	}
	want, err := am.RetrieveAllPermissions(ctx)
	if err != nil {
		t.Fatal(err)
	}

	acc, err := c.Access(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(acc.Permissions) != len(want) {
		t.Errorf("%d permissions, the endpoint has %d", len(acc.Permissions), len(want))
	}
	if !slices.Contains(acc.Permissions, vsphere.Permission{
		Entity: host.Name, EntityMoRef: host.Self.Value, EntityType: "HostSystem", Principal: "ESX Admins", Group: true, RoleID: -1, Role: "Admin", Propagate: true,
	}) {
		t.Errorf("the added permission is missing: %+v", acc.Permissions)
	}
	checkSnakeCase(t, mustJSON(t, acc))
	i := slices.IndexFunc(acc.Roles, func(r vsphere.Role) bool { return r.ID == -1 })
	if i < 0 || acc.Roles[i].Name != "Admin" || !acc.Roles[i].System || len(acc.Roles[i].Privileges) == 0 {
		t.Errorf("roles: %+v", acc.Roles)
	}
}

// TestSessions: every open session is listed, ours marked, and no key is
// kept, only its hash.
func TestSessions(t *testing.T) {
	s := startSim(t, simulator.VPX())
	c := s.dial(t, s.config())
	ctx := t.Context()
	admin, err := newGovmomi(t, s)
	if err != nil {
		t.Fatal(err)
	}
	adminSession, err := session.NewManager(admin).UserSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	current := 0
	for _, se := range list {
		if se.Current {
			current++
		}
	}
	if len(list) < 2 || current != 1 {
		t.Errorf("sessions %+v: want ours and the administrator's, ours marked", list)
	}
	b, _ := json.Marshal(list)
	if strings.Contains(string(b), adminSession.Key) {
		t.Errorf("the session list keeps a session key: %s", b)
	}
	if !slices.ContainsFunc(list, func(se vsphere.Session) bool {
		return !se.Current && len(se.KeySHA256) == 64 && se.User == adminSession.UserName
	}) {
		t.Errorf("the administrator's session is missing: %+v", list)
	}
}

// TestHostSettings: the advanced settings under the forensic prefixes,
// as the host has them, and the prefixes it has nothing under.
func TestHostSettings(t *testing.T) {
	s := startSim(t, simulator.VPX())
	c := s.dial(t, s.config())
	ctx := t.Context()
	reg := s.model.Map()
	hosts := reg.All("HostSystem")
	target, bystander := hosts[0].(*simulator.HostSystem), hosts[1].(*simulator.HostSystem)

	// An attacker's changes, made through the API.
	admin, err := newGovmomi(t, s)
	if err != nil {
		t.Fatal(err)
	}
	om := object.NewOptionManager(admin, *target.ConfigManager.AdvancedOption)
	if err := om.Update(ctx, []types.BaseOptionValue{
		&types.OptionValue{Key: "UserVars.ESXiShellInteractiveTimeOut", Value: int64(0)},
		&types.OptionValue{Key: "Syslog.global.logHost", Value: ""},
		&types.OptionValue{Key: "Config.HostAgent.plugins.hostsvc.esxAdminsGroup", Value: "ESX Admins"},
	}); err != nil {
		t.Fatal(err)
	}

	got, err := c.HostSettings(ctx, target.Name)
	if err != nil {
		t.Fatal(err)
	}
	want := []vsphere.Setting{
		{Key: "Config.HostAgent.plugins.hostsvc.esxAdminsGroup", Value: "ESX Admins", Type: "string"},
		{Key: "Syslog.global.logHost", Value: "", Type: "string"},
		{Key: "UserVars.ESXiShellInteractiveTimeOut", Value: "0", Type: "int64"},
	}
	if !slices.Equal(got.Settings, want) {
		t.Errorf("settings of %s: %+v, want %+v", target.Name, got.Settings, want)
	}
	checkSnakeCase(t, mustJSON(t, got))
	if !slices.Contains(got.Missing, "VMkernel.Boot.execInstalledOnly") || slices.Contains(got.Missing, "UserVars.") {
		t.Errorf("missing %v", got.Missing)
	}
	other, err := c.HostSettings(ctx, bystander.Name, "UserVars.", "Config.HostAgent.log.")
	if err != nil {
		t.Fatal(err)
	}
	if len(other.Settings) != 1 || other.Settings[0].Key != "Config.HostAgent.log.level" || !slices.Equal(other.Missing, []string{"UserVars."}) {
		t.Errorf("settings of an untouched host: %+v", other)
	}
}

// TestInventoryESXi: an ESXi host's own API is one datacenter with one
// host. vcsim's VM morefs are vm-N, not the numbers a real host uses,
// so no vmid is claimed.
func TestInventoryESXi(t *testing.T) {
	s := startSim(t, simulator.ESX())
	c := s.dial(t, s.config())
	if c.IsVCenter() {
		t.Error("an ESXi endpoint is taken for a vCenter")
	}
	inv, err := c.Inventory(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if inv.APIType != "HostAgent" || len(inv.Datacenters) != 1 || len(inv.AllHosts()) != 1 || len(inv.AllVMs()) != len(s.model.Map().All("VirtualMachine")) {
		t.Fatalf("ESXi inventory: %+v", inv)
	}
	for _, vm := range inv.AllVMs() {
		if vm.VMID != 0 || vm.Host != inv.AllHosts()[0].Name {
			t.Errorf("VM %s: vmid %d on %q", vm.Name, vm.VMID, vm.Host)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
