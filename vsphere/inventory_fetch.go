package vsphere

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/custody"
)

// Properties read for the inventory: only what it shows, so that a large
// vCenter answers in one round trip per kind and datacenter.
var (
	hostProps = []string{"name", "parent", "summary.config.product", "runtime.connectionState", "runtime.powerState",
		"runtime.inMaintenanceMode", "config.lockdownMode", "config.service", "config.virtualNicManagerInfo", "config.network.vnic"}
	datastoreProps = []string{"name", "summary", "info", "host"}
	vmProps        = []string{"name", "runtime.host", "runtime.powerState", "runtime.connectionState", "summary.config", "layoutEx", "snapshot"}
)

// Inventory reads every datacenter the session can see. It changes
// nothing.
func (c *Client) Inventory(ctx context.Context) (*Inventory, error) {
	about := c.vim.ServiceContent.About
	inv := &Inventory{
		Endpoint: c.ep.addr, APIType: about.ApiType, Product: about.FullName, Version: about.Version, Build: about.Build,
		InstanceUUID: about.InstanceUuid, Datacenters: []Datacenter{},
	}
	var dcs []mo.Datacenter
	if err := c.retrieve(ctx, c.vim.ServiceContent.RootFolder, "Datacenter", []string{"name"}, &dcs); err != nil {
		return nil, err
	}
	for _, dc := range dcs {
		d, err := c.datacenter(ctx, dc, about.ApiType)
		if err != nil {
			return nil, err
		}
		inv.Datacenters = append(inv.Datacenters, d)
	}
	slices.SortFunc(inv.Datacenters, func(a, b Datacenter) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.MoRef, b.MoRef)) })
	return inv, nil
}

// retrieve reads props of every object of kind under container.
func (c *Client) retrieve(ctx context.Context, container types.ManagedObjectReference, kind string, props []string, dst any) error {
	v, err := view.NewManager(c.vim).CreateContainerView(ctx, container, []string{kind}, true)
	if err != nil {
		return fmt.Errorf("list the %s objects of %s on %s: %w", kind, container.Value, c.ep.addr, err)
	}
	defer v.Destroy(context.WithoutCancel(ctx))
	if err := v.Retrieve(ctx, []string{kind}, props, dst); err != nil {
		return fmt.Errorf("read the %s objects of %s on %s: %w", kind, container.Value, c.ep.addr, err)
	}
	return nil
}

func (c *Client) datacenter(ctx context.Context, dc mo.Datacenter, apiType string) (Datacenter, error) {
	d := Datacenter{Name: dc.Name, MoRef: dc.Self.Value, Clusters: []Cluster{}, Hosts: []Host{}, Datastores: []Datastore{}, VMs: []VM{}}
	var (
		clusters []mo.ClusterComputeResource
		hosts    []mo.HostSystem
		stores   []mo.Datastore
		vms      []mo.VirtualMachine
	)
	for _, r := range []struct {
		kind  string
		props []string
		dst   any
	}{
		{"ClusterComputeResource", []string{"name", "host"}, &clusters},
		{"HostSystem", hostProps, &hosts},
		{"Datastore", datastoreProps, &stores},
		{"VirtualMachine", vmProps, &vms},
	} {
		if err := c.retrieve(ctx, dc.Self, r.kind, r.props, r.dst); err != nil {
			return d, fmt.Errorf("datacenter %s: %w", dc.Name, err)
		}
	}
	hostName := map[types.ManagedObjectReference]string{}
	for _, h := range hosts {
		hostName[h.Self] = h.Name
	}
	clusterName := map[types.ManagedObjectReference]string{}
	for _, cl := range clusters {
		clusterName[cl.Self] = cl.Name
		d.Clusters = append(d.Clusters, Cluster{Name: cl.Name, MoRef: cl.Self.Value, Hosts: names(cl.Host, hostName)})
	}
	for _, h := range hosts {
		d.Hosts = append(d.Hosts, hostOf(h, clusterName))
	}
	for _, ds := range stores {
		d.Datastores = append(d.Datastores, datastoreOf(ds, hostName))
	}
	for _, vm := range vms {
		d.VMs = append(d.VMs, vmOf(vm, hostName, apiType))
	}
	slices.SortFunc(d.Clusters, func(a, b Cluster) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.MoRef, b.MoRef)) })
	slices.SortFunc(d.Hosts, func(a, b Host) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.MoRef, b.MoRef)) })
	slices.SortFunc(d.Datastores, func(a, b Datastore) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.MoRef, b.MoRef)) })
	slices.SortFunc(d.VMs, func(a, b VM) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Name, b.Name), cmp.Compare(a.MoRef, b.MoRef))
	})
	return d, nil
}

// names maps refs to their names, sorted.
func names(refs []types.ManagedObjectReference, name map[types.ManagedObjectReference]string) []string {
	out := []string{}
	for _, r := range refs {
		if n, ok := name[r]; ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func hostOf(h mo.HostSystem, clusterName map[types.ManagedObjectReference]string) Host {
	out := Host{
		Name: h.Name, MoRef: h.Self.Value, ManagementAddresses: []string{},
		ConnectionState: string(h.Runtime.ConnectionState), PowerState: string(h.Runtime.PowerState), MaintenanceMode: h.Runtime.InMaintenanceMode,
	}
	if h.Parent != nil {
		out.Cluster = clusterName[*h.Parent]
	}
	if p := h.Summary.Config.Product; p != nil {
		out.Product, out.Version, out.Build = p.Name, p.Version, p.Build
	}
	if cfg := h.Config; cfg != nil {
		out.LockdownMode = string(cfg.LockdownMode)
		out.SSH = serviceState(cfg.Service, SSHService)
		out.ManagementAddresses = managementAddresses(cfg)
	}
	return out
}

// serviceState finds service key in info; nil when the host lists no
// such service.
func serviceState(info *types.HostServiceInfo, key string) *custody.ServiceState {
	if info == nil {
		return nil
	}
	for _, s := range info.Service {
		if s.Key == key {
			return &custody.ServiceState{Running: s.Running, Policy: s.Policy}
		}
	}
	return nil
}

// managementAddresses are the addresses of the vmkernel interfaces
// selected for management traffic, or vmk0's when none is tagged.
func managementAddresses(cfg *types.HostConfigInfo) []string {
	var nics []types.HostVirtualNic
	if info := cfg.VirtualNicManagerInfo; info != nil {
		for _, nc := range info.NetConfig {
			if nc.NicType != string(types.HostVirtualNicManagerNicTypeManagement) {
				continue
			}
			for _, cand := range nc.CandidateVnic {
				if slices.Contains(nc.SelectedVnic, cand.Key) {
					nics = append(nics, cand)
				}
			}
		}
	}
	if len(nics) == 0 && cfg.Network != nil {
		for _, v := range cfg.Network.Vnic {
			if v.Device == "vmk0" {
				nics = append(nics, v)
			}
		}
	}
	out := []string{}
	for _, n := range nics {
		ip := n.Spec.Ip
		if ip == nil {
			continue
		}
		if ip.IpAddress != "" {
			out = append(out, ip.IpAddress)
		}
		if v6 := ip.IpV6Config; v6 != nil {
			for _, a := range v6.IpV6Address {
				if a.IpAddress != "" && !strings.HasPrefix(strings.ToLower(a.IpAddress), "fe80:") {
					out = append(out, a.IpAddress)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func datastoreOf(ds mo.Datastore, hostName map[types.ManagedObjectReference]string) Datastore {
	s := ds.Summary
	out := Datastore{
		Name: ds.Name, MoRef: ds.Self.Value, URL: s.Url, Type: s.Type, CapacityBytes: s.Capacity, FreeBytes: s.FreeSpace,
		Accessible: s.Accessible, Hosts: []DatastoreMount{},
	}
	if rest, ok := strings.CutPrefix(s.Url, "ds:///vmfs/volumes/"); ok {
		out.UUID, _, _ = strings.Cut(rest, "/")
	}
	switch info := ds.Info.(type) {
	case *types.VmfsDatastoreInfo:
		if info.Vmfs != nil && out.UUID == "" {
			out.UUID = info.Vmfs.Uuid
		}
	case *types.NasDatastoreInfo:
		if info.Nas != nil {
			out.Remote = info.Nas.RemoteHost + ":" + info.Nas.RemotePath
		}
	}
	for _, m := range ds.Host {
		name, ok := hostName[m.Key]
		if !ok {
			name = m.Key.Value
		}
		mi := m.MountInfo
		out.Hosts = append(out.Hosts, DatastoreMount{
			Host: name, Path: mi.Path, AccessMode: mi.AccessMode,
			Mounted: mi.Mounted == nil || *mi.Mounted, Accessible: mi.Accessible == nil || *mi.Accessible,
		})
	}
	slices.SortFunc(out.Hosts, func(a, b DatastoreMount) int { return cmp.Compare(a.Host, b.Host) })
	return out
}

func vmOf(vm mo.VirtualMachine, hostName map[types.ManagedObjectReference]string, apiType string) VM {
	cfg := vm.Summary.Config
	out := VM{
		Name: vm.Name, MoRef: vm.Self.Value, VMID: vmid(apiType, vm.Self.Value),
		PowerState: string(vm.Runtime.PowerState), ConnectionState: string(vm.Runtime.ConnectionState),
		Template: cfg.Template, GuestOS: cfg.GuestFullName, BIOSUUID: cfg.Uuid, InstanceUUID: cfg.InstanceUuid, VMX: cfg.VmPathName,
		Files: []VMFile{},
	}
	if vm.Runtime.Host != nil {
		out.Host = hostName[*vm.Runtime.Host]
	}
	if vm.LayoutEx != nil {
		for _, f := range vm.LayoutEx.File {
			out.Files = append(out.Files, VMFile{Name: f.Name, Type: f.Type, Size: f.Size, UniqueSize: f.UniqueSize, Accessible: f.Accessible == nil || *f.Accessible})
		}
	}
	slices.SortFunc(out.Files, func(a, b VMFile) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Type, b.Type)) })
	if si := vm.Snapshot; si != nil {
		out.Snapshots = snapshotsOf(si.RootSnapshotList)
		if si.CurrentSnapshot != nil {
			out.CurrentSnapshot = snapshotID(si.RootSnapshotList, *si.CurrentSnapshot)
		}
	}
	return out
}

// vmid is the host's vmid of a VM: on an ESXi host's own API the moref
// value is that number; vCenter's morefs (vm-123) are its own.
func vmid(apiType, moref string) int {
	if apiType != "HostAgent" {
		return 0
	}
	n, err := strconv.Atoi(moref)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

func snapshotsOf(tree []types.VirtualMachineSnapshotTree) []Snapshot {
	var out []Snapshot
	for _, s := range tree {
		out = append(out, Snapshot{
			ID: s.Id, Name: s.Name, Description: s.Description, MoRef: s.Snapshot.Value, Created: s.CreateTime.UTC(),
			PowerState: string(s.State), Quiesced: s.Quiesced, Children: snapshotsOf(s.ChildSnapshotList),
		})
	}
	slices.SortFunc(out, func(a, b Snapshot) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// snapshotID finds ref's id in tree (0 when it is not there).
func snapshotID(tree []types.VirtualMachineSnapshotTree, ref types.ManagedObjectReference) int32 {
	for _, s := range tree {
		if s.Snapshot == ref {
			return s.Id
		}
		if id := snapshotID(s.ChildSnapshotList, ref); id != 0 {
			return id
		}
	}
	return 0
}
