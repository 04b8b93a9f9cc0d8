package vcenter

import (
	"context"
	"strings"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// hostObjects finds a host by name and its service system.
func hostObjects(t *testing.T, c *govmomi.Client, name string) (*object.HostSystem, *object.HostServiceSystem) {
	t.Helper()
	ctx := context.Background()
	f := find.NewFinder(c.Client)
	dc, err := f.DefaultDatacenter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	hs, err := f.HostSystem(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := hs.ConfigManager().ServiceSystem(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return hs, ss
}

// sshService reads TSM-SSH as the API reports it, from the service
// system and from the host's config; both must agree.
func sshServiceOf(t *testing.T, hs *object.HostSystem, ss *object.HostServiceSystem) types.HostService {
	t.Helper()
	ctx := context.Background()
	list, err := ss.Service(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var h mo.HostSystem
	if err := hs.Properties(ctx, hs.Reference(), []string{"config.service"}, &h); err != nil {
		t.Fatal(err)
	}
	find := func(l []types.HostService) types.HostService {
		for _, s := range l {
			if s.Key == "TSM-SSH" {
				return s
			}
		}
		t.Fatal("no TSM-SSH")
		return types.HostService{}
	}
	a, b := find(list), find(h.Config.Service.Service)
	if a.Running != b.Running || a.Policy != b.Policy {
		t.Fatalf("service system says %+v, host config says %+v", a, b)
	}
	return a
}

// TestTSMSSHOpensTheHostsPort: on esx01, whose SSH is stopped, the real
// ssh client is refused; StartService("TSM-SSH") through the vCenter
// makes the port accept it, StopService makes it refuse again, and the
// API reports each state truthfully. The policy set through the API is
// the host's. The change is in the host's footprint and in the vCenter's
// events. esx02, whose SSH the scenario leaves running, takes a login at
// once.
func TestTSMSSHOpensTheHostsPort(t *testing.T) {
	l := startLab(t)
	ctx := context.Background()
	c := l.client()
	hs, ss := hostObjects(t, c, "esx01")

	if r := l.ssh("esx01", "hostname"); !r.refused() {
		t.Fatalf("esx01's SSH is stopped, yet ssh got: %d %s", r.code, r.out)
	}
	if s := sshServiceOf(t, hs, ss); s.Running || s.Policy != "off" {
		t.Fatalf("esx01 TSM-SSH before: %+v", s)
	}
	if err := ss.Start(ctx, "TSM-SSH"); err != nil {
		t.Fatal(err)
	}
	if r := l.ssh("esx01", "hostname"); r.code != 0 || strings.TrimSpace(r.out) != "esx01" {
		t.Fatalf("after StartService: %d %s", r.code, r.out)
	}
	if s := sshServiceOf(t, hs, ss); !s.Running {
		t.Fatalf("esx01 TSM-SSH after start: %+v", s)
	}
	if err := ss.UpdatePolicy(ctx, "TSM-SSH", "on"); err != nil {
		t.Fatal(err)
	}
	if s := sshServiceOf(t, hs, ss); s.Policy != "on" || l.fleet.Host("esx01").SSH().Policy != "on" {
		t.Fatalf("policy on: API %+v, host %+v", s, l.fleet.Host("esx01").SSH())
	}
	if err := ss.UpdatePolicy(ctx, "TSM-SSH", "sometimes"); err == nil {
		t.Fatal("policy sometimes accepted")
	}
	if err := ss.Stop(ctx, "TSM-SSH"); err != nil {
		t.Fatal(err)
	}
	if r := l.ssh("esx01", "hostname"); !r.refused() {
		t.Fatalf("after StopService ssh got: %d %s", r.code, r.out)
	}
	if s := sshServiceOf(t, hs, ss); s.Running || s.Policy != "on" {
		t.Fatalf("esx01 TSM-SSH after stop: %+v", s)
	}
	var api []string
	for _, cmd := range l.fleet.Host("esx01").Footprint() {
		if cmd.Kind == "api" {
			api = append(api, cmd.User+" "+cmd.Line)
		}
	}
	mustEqual(t, "esx01's footprint", strings.Join(api, "; "), "administrator@vsphere.local vim.host.ServiceSystem.start TSM-SSH; "+
		"administrator@vsphere.local vim.host.ServiceSystem.updatePolicy on TSM-SSH; administrator@vsphere.local vim.host.ServiceSystem.stop TSM-SSH")
	events, err := event.NewManager(c.Client).QueryEvents(ctx, types.EventFilterSpec{
		Entity:      &types.EventFilterSpecByEntity{Entity: hs.Reference(), Recursion: types.EventFilterSpecRecursionOptionSelf},
		EventTypeId: []string{"esx.audit.ssh.enabled", "esx.audit.ssh.disabled"}, MaxCount: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range events {
		ids = append(ids, e.(*types.EventEx).EventTypeId)
	}
	mustEqual(t, "esx01's SSH events", sorted(ids), "esx.audit.ssh.disabled,esx.audit.ssh.enabled")

	if r := l.ssh("esx02", "hostname"); r.code != 0 || strings.TrimSpace(r.out) != "esx02" {
		t.Fatalf("esx02's SSH runs in the scenario: %d %s", r.code, r.out)
	}
}

// TestLockdownRefusesStartService: esx03 is in lockdown mode; the API
// reports it, StartService("TSM-SSH") fails with a HostConfigFault that
// names lockdown, and the host is left as found (SSH still refused).
// Leaving lockdown through the HostAccessManager lets the start through.
func TestLockdownRefusesStartService(t *testing.T) {
	l := startLab(t)
	ctx := context.Background()
	c := l.client()
	hs, ss := hostObjects(t, c, "esx03")

	err := ss.Start(ctx, "TSM-SSH")
	if err == nil || !soap.IsSoapFault(err) || !isHostConfigFault(soap.ToSoapFault(err).VimFault()) || !strings.Contains(err.Error(), "lockdown") {
		t.Fatalf("StartService on a locked-down host: %v", err)
	}
	if r := l.ssh("esx03", "hostname"); !r.refused() {
		t.Fatalf("esx03 after the refusal: %d %s", r.code, r.out)
	}
	if s := sshServiceOf(t, hs, ss); s.Running {
		t.Fatalf("esx03 TSM-SSH after the refusal: %+v", s)
	}
	if fp := l.fleet.Host("esx03").Footprint(); len(fp) != 0 {
		t.Fatalf("the refusal left a footprint: %+v", fp)
	}

	var h mo.HostSystem
	if err := hs.Properties(ctx, hs.Reference(), []string{"configManager.hostAccessManager"}, &h); err != nil {
		t.Fatal(err)
	}
	acc := *h.ConfigManager.HostAccessManager
	var am mo.HostAccessManager
	if err := c.RetrieveOne(ctx, acc, []string{"lockdownMode"}, &am); err != nil || am.LockdownMode != types.HostLockdownModeLockdownNormal {
		t.Fatalf("access manager: %+v %v", am, err)
	}
	if _, err := methods.ChangeLockdownMode(ctx, c.Client, &types.ChangeLockdownMode{This: acc, Mode: types.HostLockdownModeLockdownDisabled}); err != nil {
		t.Fatal(err)
	}
	if err := hs.Properties(ctx, hs.Reference(), []string{"config.lockdownMode"}, &h); err != nil || h.Config.LockdownMode != types.HostLockdownModeLockdownDisabled {
		t.Fatalf("after ChangeLockdownMode: %v %v", h.Config, err)
	}
	if err := ss.Start(ctx, "TSM-SSH"); err != nil {
		t.Fatal(err)
	}
	if r := l.ssh("esx03", "hostname"); r.code != 0 || strings.TrimSpace(r.out) != "esx03" {
		t.Fatalf("esx03 out of lockdown, SSH started: %d %s", r.code, r.out)
	}
}

func isHostConfigFault(f types.AnyType) bool {
	_, ok := f.(types.HostConfigFault)
	if !ok {
		_, ok = f.(*types.HostConfigFault)
	}
	return ok
}
