package vsphere_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/internal/memlog"
	"github.com/esxsink/esxsink/vsphere"
)

// TestSSHServiceRoundTrip: TSM-SSH is started, its policy set, stopped
// and restored through the host's service system; each change is
// recorded with the state before and after, a change already made is
// neither called nor recorded, and the inventory sees the host as it is.
func TestSSHServiceRoundTrip(t *testing.T) {
	s := startSim(t, simulator.VPX())
	systems := addServiceSystems(t, s.model.Map())
	log := &memlog.Log{}
	cfg := s.config()
	cfg.Log, cfg.RunID = log, "run-1"
	c := s.dial(t, cfg)
	const host = "DC0_C0_H1"
	ctx := t.Context()

	found, err := c.HostSSHService(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	if found != (custody.ServiceState{Running: false, Policy: "off"}) {
		t.Fatalf("TSM-SSH as found: %+v, vcsim's is stopped, policy off", found)
	}

	steps := []struct {
		do         func() (custody.ServiceChange, error)
		before     custody.ServiceState
		after      custody.ServiceState
		recorded   bool
		wantAction string
	}{
		{func() (custody.ServiceChange, error) { return c.StartSSH(ctx, host) }, found, custody.ServiceState{Running: true, Policy: "off"}, true, custody.ServiceStart},
		{func() (custody.ServiceChange, error) { return c.StartSSH(ctx, host) }, custody.ServiceState{Running: true, Policy: "off"}, custody.ServiceState{Running: true, Policy: "off"}, false, custody.ServiceStart},
		{func() (custody.ServiceChange, error) { return c.SetSSHPolicy(ctx, host, vsphere.PolicyOn) }, custody.ServiceState{Running: true, Policy: "off"}, custody.ServiceState{Running: true, Policy: "on"}, true, custody.ServicePolicy},
		{func() (custody.ServiceChange, error) { return c.StopSSH(ctx, host) }, custody.ServiceState{Running: true, Policy: "on"}, custody.ServiceState{Running: false, Policy: "on"}, true, custody.ServiceStop},
	}
	for i, st := range steps {
		calls, records := systems[host].calls, log.Count(custody.TypeHostServiceChanged)
		ch, err := st.do()
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if ch.Before != st.before || ch.After == nil || *ch.After != st.after || ch.Action != st.wantAction || ch.Host != host || ch.Service != "TSM-SSH" {
			t.Errorf("step %d: %+v (after %+v), want %+v → %+v", i, ch, ch.After, st.before, st.after)
		}
		called, recorded := systems[host].calls > calls, log.Count(custody.TypeHostServiceChanged) > records
		if called != st.recorded || recorded != st.recorded {
			t.Errorf("step %d: called %v, recorded %v, want both %v", i, called, recorded, st.recorded)
		}
	}
	recs := log.Records(custody.TypeHostServiceChanged)
	var last custody.ServiceChange
	if err := recs[len(recs)-1].Decode(&last); err != nil {
		t.Fatal(err)
	}
	if last.RunID != "run-1" || last.HostMoRef == "" || last.Endpoint != s.server.URL.Host || last.After == nil || last.After.Running {
		t.Errorf("stop record %+v", last)
	}

	// The inventory reads the host as its service system left it.
	inv, err := c.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range inv.AllHosts() {
		if h.Name == host && (h.SSH == nil || *h.SSH != (custody.ServiceState{Running: false, Policy: "on"})) {
			t.Errorf("inventory: %s SSH %+v", host, h.SSH)
		}
	}

	// Restored to what was found: the policy, then the running state.
	changes, err := c.RestoreSSH(ctx, host, found)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Action != custody.ServicePolicy || *changes[0].After != found {
		t.Errorf("restore: %+v", changes)
	}
	if now, _ := c.HostSSHService(ctx, host); now != found {
		t.Errorf("after restore %+v, found %+v", now, found)
	}
	// Other hosts were not touched.
	for name, ss := range systems {
		if name != host && ss.calls != 0 {
			t.Errorf("host %s had %d service calls", name, ss.calls)
		}
	}
}

// TestSSHServiceRefused: a call the host refuses is an error, and it is
// recorded with the state before and after (unchanged) and why.
func TestSSHServiceRefused(t *testing.T) {
	s := startSim(t, simulator.VPX())
	systems := addServiceSystems(t, s.model.Map())
	systems["DC0_H0"].refuse = true
	log := &memlog.Log{}
	cfg := s.config()
	cfg.Log = log
	c := s.dial(t, cfg)
	ch, err := c.StartSSH(t.Context(), "DC0_H0")
	if err == nil || !strings.Contains(err.Error(), "DC0_H0") {
		t.Fatalf("refused start: %v", err)
	}
	recs := log.Records(custody.TypeHostServiceChanged)
	if len(recs) != 1 {
		t.Fatalf("%d records of the refused start, want 1", len(recs))
	}
	var rec custody.ServiceChange
	if err := recs[0].Decode(&rec); err != nil {
		t.Fatal(err)
	}
	if rec.Error == "" || rec.After == nil || rec.After.Running || rec.Changed() || ch.Error != rec.Error {
		t.Errorf("record of a refused start: %+v", rec)
	}
}

// TestServiceChangesNeedCustodyLog: a Client without a custody log reads
// but changes nothing; bad policies and unknown hosts are refused before
// any call.
func TestServiceChangesNeedCustodyLog(t *testing.T) {
	s := startSim(t, simulator.VPX())
	systems := addServiceSystems(t, s.model.Map())
	c := s.dial(t, s.config())
	ctx := t.Context()
	if _, err := c.StartSSH(ctx, "DC0_H0"); !errors.Is(err, vsphere.ErrNoCustodyLog) {
		t.Errorf("start without a custody log: %v", err)
	}
	if _, err := c.HostSSHService(ctx, "DC0_H0"); err != nil {
		t.Errorf("reading needs no log: %v", err)
	}
	cfg := s.config()
	cfg.Log = &memlog.Log{}
	logged := s.dial(t, cfg)
	if _, err := logged.SetSSHPolicy(ctx, "DC0_H0", "sometimes"); !errors.Is(err, vsphere.ErrBadPolicy) {
		t.Errorf("bad policy: %v", err)
	}
	if _, err := logged.StartSSH(ctx, "no-such-host"); !errors.Is(err, vsphere.ErrNoSuchHost) || !strings.Contains(err.Error(), "DC0_H0") {
		t.Errorf("unknown host: %v, want ErrNoSuchHost listing the hosts there are", err)
	}
	for name, ss := range systems {
		if ss.calls != 0 {
			t.Errorf("host %s had %d service calls", name, ss.calls)
		}
	}
}

// TestLockdownMode: the host's lockdown mode as the host has it.
func TestLockdownMode(t *testing.T) {
	s := startSim(t, simulator.VPX())
	h := s.model.Map().Any("HostSystem").(*simulator.HostSystem)
	h.Config.LockdownMode = types.HostLockdownModeLockdownStrict
	c := s.dial(t, s.config())
	mode, err := c.LockdownMode(t.Context(), h.Name)
	if err != nil || mode != vsphere.LockdownStrict {
		t.Errorf("lockdown of %s: %q, %v; want %s", h.Name, mode, err, vsphere.LockdownStrict)
	}
}
