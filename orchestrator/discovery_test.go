package orchestrator

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/esxsim"
)

const oddNames = "examples/lab/odd-names.yaml"

// registeredState are the simulator's registered VMs by vmid.
func registeredState(e *simEnv) map[int]esxsim.VMState {
	m := map[int]esxsim.VMState{}
	for _, v := range e.host.State().VMs {
		if v.Registered {
			m[v.ID] = v
		}
	}
	return m
}

// Every registered vmid of the host is in the inventory with the name the
// host stores, whatever that name holds.
func TestDiscoverOddNames(t *testing.T) {
	t.Parallel()
	e := startSim(t, oddNames)
	inv, err := Discover(context.Background(), e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	want := registeredState(e)
	if len(want) != 7 {
		t.Fatalf("the scenario has %d registered VMs, want 7", len(want))
	}
	got := map[int]*VM{}
	for _, v := range inv.VMs {
		if v.Registered {
			got[v.ID] = v
		}
	}
	for id, st := range want {
		v := got[id]
		if v == nil {
			t.Errorf("vmid %d %q missing from the inventory", id, st.Name)
			continue
		}
		if v.Name != st.Name || v.Running() != (st.Power == "on") || esxi.CanonicalHostPath(v.VMX, inv.Datastores) != esxi.CanonicalHostPath(st.VMX, inv.Datastores) {
			t.Errorf("vmid %d: %q running %v %s, want %q %s %s", id, v.Name, v.Running(), v.VMX, st.Name, st.Power, st.VMX)
		}
		if len(v.Files) == 0 || len(v.Disks) != 1 {
			t.Errorf("vmid %d %q: %d files, disks %+v", id, v.Name, len(v.Files), v.Disks)
		}
	}
	if len(got) != len(want) || len(inv.Unplaced) != 0 {
		t.Errorf("%d registered VMs, unplaced %+v", len(got), inv.Unplaced)
	}
	var unreg []string
	for _, v := range inv.VMs {
		if !v.Registered {
			unreg = append(unreg, v.Name)
		}
	}
	if !slices.Equal(unreg, []string{"left behind"}) {
		t.Errorf("unregistered %q, want only \"left behind\"", unreg)
	}
	assertReadOnly(t, e)
}

// collect --all on odd names: every registered vmid has verified files.
func TestCollectOddNamesAll(t *testing.T) {
	e := startSim(t, oddNames)
	plan, rep, err := collectAll(t, e, nil, true, false)
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	verified := map[int]int{}
	for _, f := range rep.Files {
		if !f.Verified {
			t.Errorf("%s not verified: %s", f.Item.Source, f.Error)
		}
		verified[f.Item.VMID]++
	}
	for id, st := range registeredState(e) {
		if verified[id] == 0 {
			t.Errorf("vmid %d %q: nothing collected", id, st.Name)
		}
	}
	if len(rep.Files) != plan.Files {
		t.Errorf("%d of %d planned files copied", len(rep.Files), plan.Files)
	}
	assertClean(t, e, nil)
}

// hiddenLab is a host whose getallvms (recorded) leaves out the running
// VM 2 and shows a row for vmid 7 that cannot be split, whose get.config
// fails.
const hiddenLab = `
host: {hostname: esx-hidden, version: 8.0.2, build: "22380479", user: root, password: "Hidden-1!"}
datastores: [{name: datastore1, type: VMFS-6}]
vms:
  - {id: 1, name: web, power: "on", disks: [{size: 1MiB}]}
  - {id: 2, name: db, power: "on", disks: [{size: 1MiB}]}
recorded:
  - command: vim-cmd vmsvc/getallvms
    stdout: |
      Vmid   Name   File                        Guest OS       Version
      1      web    [datastore1] web/web.vmx    otherGuest64   vmx-19
      7      ???
  - command: vim-cmd vmsvc/get.config 7
    stdout: "Failed to retrieve the configuration\n"
    exit: 1
`

// A VM the host reports but getallvms hides or garbles is a
// DiscoveryError naming it, never a silent drop.
func TestDiscoverHiddenVMs(t *testing.T) {
	t.Parallel()
	e := startSim(t, hiddenLab)
	inv, err := Discover(context.Background(), e.runner, e.conn.Addr(), quietLogger())
	var de *DiscoveryError
	if !errors.As(err, &de) {
		t.Fatalf("err %v, want a *DiscoveryError", err)
	}
	if !slices.Equal(de.VMIDs(), []int{7}) {
		t.Errorf("vmids %v in %v, want [7]", de.VMIDs(), err)
	}
	if !slices.ContainsFunc(de.Problems, func(p DiscoveryProblem) bool {
		return p.VMID == 0 && strings.HasSuffix(p.ConfigFile, "/db/db.vmx") && p.Source == "esxcli vm process list"
	}) {
		t.Errorf("the running VM db is not named: %+v", de.Problems)
	}
	if inv == nil || len(inv.VMs) != 1 || inv.VMs[0].ID != 1 {
		t.Errorf("inventory so far: %+v", inv)
	}
	for _, v := range inv.VMs {
		if !v.Registered {
			t.Errorf("unregistered VM %s listed despite the error", v.VMX)
		}
	}
}

// skippedLab: vim-cmd skips vmid 40 as invalid, and esxcli has no vm
// namespace; both are warnings, and vmid 40 stays visible.
const skippedLab = `
host: {hostname: esx-skipped, version: 8.0.2, build: "22380479", user: root, password: "Skipped-1!"}
datastores: [{name: datastore1, type: VMFS-6}]
vms:
  - {id: 1, name: web, power: "on", disks: [{size: 1MiB}]}
recorded:
  - command: vim-cmd vmsvc/getallvms
    stdout: |
      Skipping invalid VM '40'
      Vmid   Name   File                        Guest OS       Version
      1      web    [datastore1] web/web.vmx    otherGuest64   vmx-19
  - command: esxcli --formatter=csv vm process list
    stderr: "Error: Unknown command or namespace vm process list\n"
    exit: 1
`

func TestDiscoverSkippedVMIsUnplaced(t *testing.T) {
	t.Parallel()
	e := startSim(t, skippedLab)
	inv, err := Discover(context.Background(), e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Unplaced) != 1 || inv.Unplaced[0].ID != 40 || !strings.Contains(inv.Unplaced[0].Reason, "invalid") {
		t.Errorf("unplaced %+v, want vmid 40", inv.Unplaced)
	}
	warned := strings.Join(inv.Warnings, "\n")
	if !strings.Contains(warned, "running VMs not cross-checked") || !strings.Contains(warned, "vmid 40") {
		t.Errorf("warnings %q", inv.Warnings)
	}
	if len(inv.VMs) != 1 || inv.VMs[0].ID != 1 {
		t.Errorf("VMs %+v", inv.VMs)
	}
	if _, err := SelectVMs(inv, []string{"40"}, false, false); !errors.Is(err, ErrVMNotCollectable) {
		t.Errorf("--vm 40: %v", err)
	}
}
