package vcenter

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/esxsim"
)

// inventory is what a client reads of the whole inventory.
type inventory struct {
	hosts    []mo.HostSystem
	clusters []mo.ClusterComputeResource
	dss      []mo.Datastore
	vms      []mo.VirtualMachine
	dcs      []mo.Datacenter
	names    map[types.ManagedObjectReference]string
}

func readInventory(t *testing.T, c *govmomi.Client) *inventory {
	t.Helper()
	ctx := context.Background()
	v, err := view.NewManager(c.Client).CreateContainerView(ctx, c.ServiceContent.RootFolder, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Destroy(ctx)
	inv := &inventory{names: map[types.ManagedObjectReference]string{}}
	for _, r := range []struct {
		kind  string
		props []string
		dst   any
	}{
		{"HostSystem", []string{"name", "parent", "summary.config.product", "config.lockdownMode", "config.service", "config.network.vnic", "datastore", "configManager"}, &inv.hosts},
		{"ClusterComputeResource", []string{"name", "host"}, &inv.clusters},
		{"Datastore", []string{"name", "summary", "info", "host"}, &inv.dss},
		{"VirtualMachine", []string{"name", "runtime", "config", "snapshot", "layoutEx"}, &inv.vms},
		{"Datacenter", []string{"name"}, &inv.dcs},
	} {
		if err := v.Retrieve(ctx, []string{r.kind}, r.props, r.dst); err != nil {
			t.Fatalf("retrieve %s: %v", r.kind, err)
		}
	}
	for _, h := range inv.hosts {
		inv.names[h.Self] = h.Name
	}
	return inv
}

func (inv *inventory) host(name string) *mo.HostSystem {
	for i := range inv.hosts {
		if inv.hosts[i].Name == name {
			return &inv.hosts[i]
		}
	}
	return nil
}

func sorted(s []string) string {
	s = slices.Clone(s)
	sort.Strings(s)
	return strings.Join(s, ",")
}

// TestInventoryEqualsScenario reads the whole inventory over TLS with
// govmomi, as `esxsink inventory --vcenter` will, and compares it with
// the scenario and with what the simulated hosts hold: hosts with their
// product, address, lockdown mode and SSH service; the cluster and the
// standalone host; datastores with their UUIDs and the hosts that mount
// them; VMs on their hosts with power states, paths, UUIDs, snapshots and
// files.
func TestInventoryEqualsScenario(t *testing.T) {
	l := startLab(t)
	inv := readInventory(t, l.client())
	sc := l.sc

	if len(inv.dcs) != 1 || inv.dcs[0].Name != sc.VCenter.Datacenter {
		t.Fatalf("datacenters: %+v", inv.dcs)
	}
	var want, got []string
	for _, h := range sc.Hosts {
		want = append(want, h.Host.Hostname)
	}
	for _, h := range inv.hosts {
		got = append(got, h.Name)
	}
	mustEqual(t, "hosts", sorted(got), sorted(want))
	for _, h := range sc.Hosts {
		hs := inv.host(h.Host.Hostname)
		p := hs.Summary.Config.Product
		mustEqual(t, h.Host.Hostname+" product", p.FullName, fmt.Sprintf("VMware ESXi %s build-%s", h.Host.Version, h.Host.Build))
		mustEqual(t, h.Host.Hostname+" address", hs.Config.Network.Vnic[0].Spec.Ip.IpAddress, h.Host.Address)
		mustEqual(t, h.Host.Hostname+" lockdown", hs.Config.LockdownMode, lockdownMode(h.Host.Lockdown))
		var ssh *types.HostService
		for i := range hs.Config.Service.Service {
			if s := &hs.Config.Service.Service[i]; s.Key == "TSM-SSH" {
				ssh = s
			}
		}
		if ssh == nil || ssh.Running != (h.Host.SSH == esxsim.SSHRunning) || ssh.Policy != h.Host.SSHPolicy {
			t.Errorf("%s TSM-SSH: %+v, scenario %s policy %s", h.Host.Hostname, ssh, h.Host.SSH, h.Host.SSHPolicy)
		}
		if hs.ConfigManager.ServiceSystem == nil || hs.ConfigManager.HostAccessManager == nil {
			t.Errorf("%s: no service system or access manager: %+v", h.Host.Hostname, hs.ConfigManager)
		}
		cl := sc.VCenter.Cluster(h.Host.Hostname)
		wantParent := map[bool]string{true: "ClusterComputeResource", false: "ComputeResource"}[cl != ""]
		mustEqual(t, h.Host.Hostname+" parent", hs.Parent.Type, wantParent)
	}
	if len(inv.clusters) != len(sc.VCenter.Clusters) {
		t.Fatalf("clusters: %d, scenario %d", len(inv.clusters), len(sc.VCenter.Clusters))
	}
	for _, cl := range inv.clusters {
		var members []string
		for _, r := range cl.Host {
			members = append(members, inv.names[r])
		}
		i := slices.IndexFunc(sc.VCenter.Clusters, func(c esxsim.ClusterSpec) bool { return c.Name == cl.Name })
		if i < 0 {
			t.Fatalf("cluster %s is not in the scenario", cl.Name)
		}
		mustEqual(t, "cluster "+cl.Name, sorted(members), sorted(sc.VCenter.Clusters[i].Hosts))
	}

	// Datastores: one object per scenario datastore, a shared one mounted
	// by every host that lists it.
	seen := map[string]bool{}
	for _, h := range sc.Hosts {
		for _, d := range h.Datastores {
			seen[d.Name] = true
			i := slices.IndexFunc(inv.dss, func(x mo.Datastore) bool { return x.Name == d.Name })
			if i < 0 {
				t.Fatalf("datastore %s missing", d.Name)
			}
			ds := inv.dss[i]
			vmfs, ok := ds.Info.(*types.VmfsDatastoreInfo)
			if !ok || vmfs.Vmfs.Uuid != d.UUID || ds.Summary.Url != "ds:///vmfs/volumes/"+d.UUID+"/" || ds.Summary.Type != "VMFS" || ds.Summary.Capacity != int64(d.Capacity) {
				t.Errorf("datastore %s: info %+v summary %+v, scenario uuid %s", d.Name, ds.Info, ds.Summary, d.UUID)
			}
			var mounts []string
			for _, m := range ds.Host {
				mounts = append(mounts, inv.names[m.Key])
				mustEqual(t, d.Name+" mount path", m.MountInfo.Path, "/vmfs/volumes/"+d.UUID)
			}
			mustEqual(t, "hosts mounting "+d.Name, sorted(mounts), sorted(sc.Shared(d.UUID)))
		}
	}
	if len(inv.dss) != len(seen) {
		t.Errorf("%d datastores, scenario has %d", len(inv.dss), len(seen))
	}
	if sh := sc.Shared(sc.SharedDatastores[0].UUID); len(sh) != 2 {
		t.Fatalf("the scenario's shared datastore: %v", sh)
	}

	// VMs: on their host, as the host has them.
	nVM := 0
	for _, h := range sc.Hosts {
		host := l.fleet.Host(h.Host.Hostname)
		for _, spec := range h.VMs {
			nVM++
			i := slices.IndexFunc(inv.vms, func(x mo.VirtualMachine) bool { return x.Name == spec.Name })
			if i < 0 {
				t.Fatalf("vm %s missing", spec.Name)
			}
			vm := inv.vms[i]
			checkVM(t, inv, host, spec, vm)
		}
	}
	mustEqual(t, "VMs", len(inv.vms), nVM)
}

func checkVM(t *testing.T, inv *inventory, host *esxsim.Host, spec esxsim.VMSpec, vm mo.VirtualMachine) {
	t.Helper()
	mustEqual(t, spec.Name+" host", inv.names[*vm.Runtime.Host], host.Hostname())
	mustEqual(t, spec.Name+" power", vm.Runtime.PowerState, vmPower(spec.Power))
	vmx := fmt.Sprintf("[%s] %s/%s", spec.Datastore, spec.Folder, spec.File)
	mustEqual(t, spec.Name+" vmPathName", vm.Config.Files.VmPathName, vmx)
	mustEqual(t, spec.Name+" BIOS UUID", vm.Config.Uuid, canonicalUUID(spec.UUID))
	mustEqual(t, spec.Name+" memory", vm.Config.Hardware.MemoryMB, int32(spec.MemoryMB))

	var snaps []string
	var walk func([]types.VirtualMachineSnapshotTree)
	walk = func(ts []types.VirtualMachineSnapshotTree) {
		for _, s := range ts {
			snaps = append(snaps, s.Name)
			walk(s.ChildSnapshotList)
		}
	}
	if vm.Snapshot != nil {
		walk(vm.Snapshot.RootSnapshotList)
	}
	var wantSnaps []string
	var walkSpec func([]esxsim.SnapshotSpec)
	walkSpec = func(ss []esxsim.SnapshotSpec) {
		for _, s := range ss {
			wantSnaps = append(wantSnaps, s.Name)
			walkSpec(s.Children)
		}
	}
	walkSpec(spec.Snapshots)
	mustEqual(t, spec.Name+" snapshots", sorted(snaps), sorted(wantSnaps))

	// Every file the API lists is on the host with its size, and every
	// descriptor, extent and .vmx on the host is listed.
	dir := "/vmfs/volumes/" + spec.Datastore + "/" + spec.Folder
	onHost := map[string]int64{}
	infos, err := host.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, fi := range infos {
		onHost[fmt.Sprintf("[%s] %s/%s", spec.Datastore, spec.Folder, fi.Name())] = fi.Size()
	}
	listed := map[string]bool{}
	for _, f := range vm.LayoutEx.File {
		listed[f.Name] = true
		if size, ok := onHost[f.Name]; !ok || size != f.Size {
			t.Errorf("%s: layoutEx lists %s (%d bytes), the host has %d (present %v)", spec.Name, f.Name, f.Size, size, ok)
		}
	}
	for name := range onHost {
		if ext := path.Ext(name); (ext == ".vmdk" || ext == ".vmx" || ext == ".nvram") && !listed[name] {
			t.Errorf("%s: the host has %s, layoutEx does not list it", spec.Name, name)
		}
	}
	if !listed[vmx] {
		t.Errorf("%s: layoutEx lacks the .vmx", spec.Name)
	}
	var disks int
	for _, d := range vm.Config.Hardware.Device {
		if disk, ok := d.(*types.VirtualDisk); ok {
			disks++
			b := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo).GetVirtualDeviceFileBackingInfo()
			if _, ok := onHost[b.FileName]; !ok {
				t.Errorf("%s: disk backing %s is not on the host", spec.Name, b.FileName)
			}
		}
	}
	mustEqual(t, spec.Name+" disks", disks, len(spec.Disks))
}

func mustEqual(t testing.TB, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

// TestReferencesAreStable: two labs from one scenario give every host,
// datastore, VM and snapshot the same managed object reference, so what a
// client records (an inventory's JSON) is the same from run to run.
func TestReferencesAreStable(t *testing.T) {
	refs := func() string {
		l := startLab(t)
		inv := readInventory(t, l.client())
		var out []string
		for _, h := range inv.hosts {
			out = append(out, h.Name+"="+h.Self.Value+" "+h.ConfigManager.ServiceSystem.Value)
		}
		for _, d := range inv.dss {
			out = append(out, d.Name+"="+d.Self.Value)
		}
		for _, vm := range inv.vms {
			out = append(out, vm.Name+"="+vm.Self.Value)
			if vm.Snapshot != nil {
				out = append(out, vm.Snapshot.CurrentSnapshot.Value)
			}
		}
		return sorted(out)
	}
	mustEqual(t, "references of a second run", refs(), refs())
}

// TestEveryExampleUnderAVCenter puts each single-host example (every disk
// kind, RDMs, VMFS-5, suspended and unregistered VMs, names with quotes,
// brackets, newlines) under a vCenter: the inventory lists every
// registered VM on its host with the host's paths and files.
func TestEveryExampleUnderAVCenter(t *testing.T) {
	for _, name := range []string{"basic.yaml", "full.yaml", "odd-names.yaml", "faults.yaml"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "..", "examples", "lab", name))
			if err != nil {
				t.Fatal(err)
			}
			var doc strings.Builder
			doc.WriteString("vcenter: {}\nhosts:\n  -\n")
			for _, line := range strings.Split(string(b), "\n") {
				doc.WriteString("    " + line + "\n")
			}
			sc, err := esxsim.ParseFleet([]byte(doc.String()))
			if err != nil {
				t.Fatal(err)
			}
			f, err := esxsim.NewFleet(sc, esxsim.FleetConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			vc, err := New(f, Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer vc.Close()
			if err := vc.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			l := &lab{t: t, sc: sc, fleet: f, vc: vc}
			inv := readInventory(t, l.client())
			n := 0
			for _, spec := range sc.Hosts[0].VMs {
				if spec.Unregistered {
					continue
				}
				n++
				// vSphere escapes %, / and \ in an entity's name.
				name := strings.NewReplacer("%", "%25", "/", "%2f", `\`, "%5c").Replace(spec.Name)
				i := slices.IndexFunc(inv.vms, func(x mo.VirtualMachine) bool { return x.Name == name })
				if i < 0 {
					t.Fatalf("vm %q missing", name)
				}
				checkVM(t, inv, f.Hosts()[0], spec, inv.vms[i])
			}
			mustEqual(t, "registered VMs", len(inv.vms), n)
		})
	}
}
