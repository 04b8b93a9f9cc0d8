package vsphere_test

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/vsphere"
)

// bigVPX is a vCenter with two datacenters, each with a cluster of three
// hosts, a standalone host, two datastores and VMs on every host.
func bigVPX() *simulator.Model {
	m := simulator.VPX()
	m.Datacenter, m.Datastore = 2, 2
	return m
}

// TestInventoryMatchesSimulator: every host, datastore and VM the
// simulated vCenter holds is listed, with the facts the simulator
// holds for it.
func TestInventoryMatchesSimulator(t *testing.T) {
	s := startSim(t, bigVPX())
	reg := s.model.Map()
	locked := reg.Any("HostSystem").(*simulator.HostSystem)
	locked.Config.LockdownMode = types.HostLockdownModeLockdownNormal

	inv, err := s.dial(t, s.config()).Inventory(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Datacenters) != 2 || inv.APIType != "VirtualCenter" {
		t.Fatalf("%d datacenters (api %s), want the simulator's 2", len(inv.Datacenters), inv.APIType)
	}

	// Hosts: each of the simulator's, in its cluster, with its state.
	hosts := map[string]vsphere.Host{}
	for _, h := range inv.AllHosts() {
		hosts[h.MoRef] = h
	}
	for _, e := range reg.All("HostSystem") {
		sh := e.(*simulator.HostSystem)
		h, ok := hosts[sh.Self.Value]
		if !ok {
			t.Errorf("host %s (%s) is not listed", sh.Name, sh.Self.Value)
			continue
		}
		delete(hosts, sh.Self.Value)
		wantCluster := ""
		if sh.Parent.Type == "ClusterComputeResource" {
			wantCluster = reg.Get(*sh.Parent).(*simulator.ClusterComputeResource).Name
		}
		if h.Name != sh.Name || h.Cluster != wantCluster || h.Version != sh.Summary.Config.Product.Version || h.Build != sh.Summary.Config.Product.Build ||
			h.ConnectionState != string(sh.Runtime.ConnectionState) || h.LockdownMode != string(sh.Config.LockdownMode) {
			t.Errorf("host %s: %+v, simulator has cluster %q, %s build %s, %s, %s", sh.Name, h, wantCluster,
				sh.Summary.Config.Product.Version, sh.Summary.Config.Product.Build, sh.Runtime.ConnectionState, sh.Config.LockdownMode)
		}
		if h.SSH == nil || h.SSH.Running || h.SSH.Policy != "off" {
			t.Errorf("host %s: SSH %+v, the simulator's TSM-SSH is stopped with policy off", sh.Name, h.SSH)
		}
		if len(h.ManagementAddresses) == 0 {
			t.Errorf("host %s: no management address", sh.Name)
		}
		if h.InLockdown() != (sh == locked) {
			t.Errorf("host %s: in lockdown %v, lockdown mode %s", sh.Name, h.InLockdown(), h.LockdownMode)
		}
	}
	if len(hosts) > 0 {
		t.Errorf("hosts the simulator does not have: %v", slices.Collect(maps.Keys(hosts)))
	}

	// Datastores, and which hosts mount each.
	stores := map[string]vsphere.Datastore{}
	for _, dc := range inv.Datacenters {
		for _, ds := range dc.Datastores {
			stores[ds.MoRef] = ds
		}
	}
	for _, e := range reg.All("Datastore") {
		sds := e.(*simulator.Datastore)
		ds, ok := stores[sds.Self.Value]
		if !ok {
			t.Errorf("datastore %s is not listed", sds.Name)
			continue
		}
		delete(stores, sds.Self.Value)
		var want, got []string
		for _, m := range sds.Host {
			want = append(want, reg.Get(m.Key).(*simulator.HostSystem).Name)
		}
		for _, m := range ds.Hosts {
			got = append(got, m.Host)
		}
		slices.Sort(want)
		if ds.Name != sds.Name || ds.Type != sds.Summary.Type || ds.CapacityBytes != sds.Summary.Capacity || !slices.Equal(got, want) {
			t.Errorf("datastore %s: %+v, simulator has type %s, capacity %d, hosts %v", sds.Name, ds, sds.Summary.Type, sds.Summary.Capacity, want)
		}
	}
	if len(stores) > 0 {
		t.Errorf("datastores the simulator does not have: %v", slices.Collect(maps.Keys(stores)))
	}

	// VMs: their host, power state, configuration file and files.
	vms := map[string]vsphere.VM{}
	for _, vm := range inv.AllVMs() {
		vms[vm.MoRef] = vm
	}
	for _, e := range reg.All("VirtualMachine") {
		svm := e.(*simulator.VirtualMachine)
		vm, ok := vms[svm.Self.Value]
		if !ok {
			t.Errorf("VM %s is not listed", svm.Name)
			continue
		}
		delete(vms, svm.Self.Value)
		host := reg.Get(*svm.Runtime.Host).(*simulator.HostSystem).Name
		if vm.Name != svm.Name || vm.Host != host || vm.PowerState != string(svm.Runtime.PowerState) || vm.VMX != svm.Config.Files.VmPathName ||
			len(vm.Files) != len(svm.LayoutEx.File) || vm.InstanceUUID != svm.Config.InstanceUuid {
			t.Errorf("VM %s: %+v, simulator has host %s, %s, %s, %d files", svm.Name, vm, host, svm.Runtime.PowerState, svm.Config.Files.VmPathName, len(svm.LayoutEx.File))
		}
		if vm.VMID != 0 {
			t.Errorf("VM %s: vmid %d through vCenter, where the host's vmid is not known", vm.Name, vm.VMID)
		}
	}
	if len(vms) > 0 {
		t.Errorf("VMs the simulator does not have: %v", slices.Collect(maps.Keys(vms)))
	}
}

// TestInventorySnapshots: a VM's snapshot tree comes with names, ids,
// creation times in UTC and the current snapshot.
func TestInventorySnapshots(t *testing.T) {
	s := startSim(t, simulator.VPX())
	c := s.dial(t, s.config())
	svm := s.model.Map().Any("VirtualMachine").(*simulator.VirtualMachine)
	before := time.Now()

	// The snapshots are made through the API, as an administrator would.
	admin, err := newGovmomi(t, s)
	if err != nil {
		t.Fatal(err)
	}
	vm := object.NewVirtualMachine(admin, svm.Self)
	for _, name := range []string{"before patch", "after patch"} {
		task, err := vm.CreateSnapshot(t.Context(), name, "by the admin", false, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := task.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}

	inv, err := c.Inventory(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got *vsphere.VM
	for _, v := range inv.AllVMs() {
		if v.MoRef == svm.Self.Value {
			got = &v
		}
	}
	if got == nil {
		t.Fatalf("VM %s not listed", svm.Name)
	}
	if len(got.Snapshots) != 1 || len(got.Snapshots[0].Children) != 1 {
		t.Fatalf("snapshots %+v, want a root with one child", got.Snapshots)
	}
	root, child := got.Snapshots[0], got.Snapshots[0].Children[0]
	if root.Name != "before patch" || child.Name != "after patch" || root.ID == child.ID || got.CurrentSnapshot != child.ID {
		t.Errorf("snapshot tree %+v, current %d", got.Snapshots, got.CurrentSnapshot)
	}
	for _, sn := range []vsphere.Snapshot{root, child} {
		if sn.Created.Location() != time.UTC || sn.Created.Before(before.Add(-time.Second)) {
			t.Errorf("snapshot %q created %v, want UTC and after %v", sn.Name, sn.Created, before)
		}
	}
}

// TestInventoryJSONStable: two reads of an unchanged inventory marshal to
// the same bytes, and every key is lower-case snake_case.
func TestInventoryJSONStable(t *testing.T) {
	s := startSim(t, bigVPX())
	c := s.dial(t, s.config())
	var runs [2][]byte
	for i := range runs {
		inv, err := c.Inventory(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if runs[i], err = json.MarshalIndent(inv, "", "  "); err != nil {
			t.Fatal(err)
		}
	}
	if string(runs[0]) != string(runs[1]) {
		t.Errorf("two reads differ:\n%s\n---\n%s", runs[0], runs[1])
	}
	checkSnakeCase(t, runs[0])
}

var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// checkSnakeCase fails for every JSON object key that is not snake_case.
func checkSnakeCase(t *testing.T, b []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if !snakeKey.MatchString(k) {
					t.Errorf("JSON key %q is not snake_case", k)
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
}
