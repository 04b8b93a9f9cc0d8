package vcenter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/esxsim"
)

// build makes the inventory through vcsim's own API (in process), so its
// objects are wired as vcsim expects, then gives them the scenario's
// identities, which the API cannot set.
func (v *VCenter) build(ctx context.Context) error {
	c, err := vim25.NewClient(ctx, v.model.Service)
	if err != nil {
		return err
	}
	fs := v.fleet.Scenario()
	// The datacenters in the scenario's order, the first (where every
	// host no datacenters: entry places goes) first.
	dcFolders := map[string]*object.DatacenterFolders{}
	for _, name := range v.spec.DatacenterNames() {
		dc, err := object.NewRootFolder(c).CreateDatacenter(ctx, name)
		if err != nil {
			return fmt.Errorf("datacenter %s: %w", name, err)
		}
		if len(dcFolders) == 0 {
			v.dc = dc.Reference()
		}
		if dcFolders[name], err = dc.Folders(ctx); err != nil {
			return err
		}
	}
	clusters := map[string]*object.ClusterComputeResource{}
	for _, cs := range v.spec.Clusters {
		folders := dcFolders[v.spec.DatacenterOf(cs.Hosts[0])]
		cl, err := folders.HostFolder.CreateCluster(ctx, cs.Name, types.ClusterConfigSpecEx{})
		if err != nil {
			return fmt.Errorf("cluster %s: %w", cs.Name, err)
		}
		clusters[cs.Name] = cl
	}
	for _, h := range v.fleet.Hosts() {
		name := h.Hostname()
		spec := types.HostConnectSpec{HostName: name, UserName: "root", Force: true}
		folders := dcFolders[v.spec.DatacenterOf(name)]
		var task *object.Task
		if cl := clusters[v.spec.Cluster(name)]; cl != nil {
			task, err = cl.AddHost(ctx, spec, true, nil, nil)
		} else {
			task, err = folders.HostFolder.AddStandaloneHost(ctx, spec, true, nil, nil)
		}
		if err != nil {
			return fmt.Errorf("host %s: %w", name, err)
		}
		res, err := task.WaitForResult(ctx, nil)
		if err != nil {
			return fmt.Errorf("host %s: %w", name, err)
		}
		v.hosts[name] = &labHost{h: h, ref: res.Result.(types.ManagedObjectReference)}
	}
	for _, h := range fs.Hosts {
		for _, d := range h.Datastores {
			if err := v.mount(ctx, c, d, h.Host.Hostname); err != nil {
				return err
			}
		}
	}
	for _, h := range v.fleet.Hosts() {
		if err := v.createVMs(ctx, c, dcFolders[v.spec.DatacenterOf(h.Hostname())], v.hosts[h.Hostname()]); err != nil {
			return err
		}
	}
	// In scenario order, so every run gives every object the same
	// reference (vcsim numbers them as they are made).
	sctx := v.model.Service.Context
	for _, lh := range v.hostList() {
		v.dressHost(sctx, lh)
	}
	for _, h := range fs.Hosts {
		for _, d := range h.Datastores {
			v.dressDatastore(sctx, d, fs.Shared(d.UUID))
		}
	}
	for _, lv := range v.vmList() {
		if err := v.dressVM(sctx, lv); err != nil {
			return fmt.Errorf("vm %s: %w", lv.spec.Name, err)
		}
	}
	v.dressAbout(sctx)
	v.postScenarioEvents(sctx)
	return nil
}

// mount mounts datastore d on a host. vcsim backs a datastore with a
// local folder and makes the second host's mount of the same name and
// folder the same Datastore object: one datastore, several hosts. vcsim
// parses datastore paths naively (a name with "]" breaks them), so it
// knows the datastore by a plain name made of its UUID until
// dressDatastore gives it its name: two hosts' datastores of one name
// (in two datacenters) stay two.
func (v *VCenter) mount(ctx context.Context, c *vim25.Client, d esxsim.Datastore, host string) error {
	name := d.Name
	plain := plainName(d.UUID)
	dir := filepath.Join(v.dir, plain)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	hs := object.NewHostSystem(c, v.hosts[host].ref)
	dss, err := hs.ConfigManager().DatastoreSystem(ctx)
	if err != nil {
		return err
	}
	ref, err := dss.CreateLocalDatastore(ctx, plain, dir)
	if err != nil {
		return fmt.Errorf("datastore %s on %s: %w", name, host, err)
	}
	// vcsim answers the second host's mount with a reference of its own
	// making, not the shared datastore's: keep the first.
	if _, ok := v.dss[d.UUID]; !ok {
		v.dss[d.UUID] = ref.Reference()
	}
	return nil
}

// plainName is the name vcsim knows a datastore by while the inventory
// is built.
func plainName(uuid string) string { return fmt.Sprintf("ds-%x", uuid) }

// datastoreUUID is the UUID of the datastore a host's scenario names.
func datastoreUUID(sc *esxsim.Scenario, name string) string {
	for _, d := range sc.Datastores {
		if d.Name == name {
			return d.UUID
		}
	}
	return ""
}

// datastore finds a datastore by its UUID.
func (v *VCenter) datastore(uuid string) *simulator.Datastore {
	ref, ok := v.dss[uuid]
	if !ok {
		return nil
	}
	return v.model.Map().Get(ref).(*simulator.Datastore)
}

// dressDatastore gives a datastore its scenario identity: a VMFS volume
// with the scenario's UUID, URL, capacity and device, mounted at
// /vmfs/volumes/UUID on every host that lists it.
func (v *VCenter) dressDatastore(ctx *simulator.Context, d esxsim.Datastore, hosts []string) {
	ds := v.datastore(d.UUID)
	if ds == nil || ds.Info.GetDatastoreInfo().Url == dsURL(d.UUID) {
		return
	}
	ds.Name, ds.Summary.Name = d.Name, d.Name
	url := dsURL(d.UUID)
	major := int32(6)
	if d.Type == "VMFS-5" {
		major = 5
	}
	var extent []types.HostScsiDiskPartition
	if d.Device != "" {
		extent = []types.HostScsiDiskPartition{{DiskName: d.Device, Partition: 1}}
	}
	now := types.NewTime(v.started)
	ds.Info = &types.VmfsDatastoreInfo{
		DatastoreInfo: types.DatastoreInfo{
			Name: d.Name, Url: url, FreeSpace: int64(d.Free), MaxFileSize: 62 << 40,
			MaxVirtualDiskCapacity: 62 << 40, MaxMemoryFileSize: 62 << 40, Timestamp: now,
		},
		MaxPhysicalRDMFileSize: 64 << 40, MaxVirtualRDMFileSize: 62 << 40,
		Vmfs: &types.HostVmfsVolume{
			HostFileSystemVolume: types.HostFileSystemVolume{Type: "VMFS", Name: d.Name, Capacity: int64(d.Capacity)},
			BlockSizeMb:          1, MaxBlocks: 63963136, MajorVersion: major, Version: fmt.Sprintf("%d.82", major),
			Uuid: d.UUID, Extent: extent, Local: types.NewBool(len(hosts) < 2),
		},
	}
	// From here vcsim must not touch the folder behind the datastore: its
	// URL names the simulated hosts' volume (guard.go refuses file work).
	ds.Summary.Url = url
	ds.Summary.Type = "VMFS"
	ds.Summary.Capacity = int64(d.Capacity)
	ds.Summary.FreeSpace = int64(d.Free)
	ds.Summary.MultipleHostAccess = types.NewBool(len(hosts) > 1)
	ds.Capability.RawDiskMappingsSupported = true
	ds.Capability.SeSparseSupported = types.NewBool(major == 6)
	for i := range ds.Host {
		ds.Host[i].MountInfo.Path = "/vmfs/volumes/" + d.UUID
	}
}

func dsURL(uuid string) string { return "ds:///vmfs/volumes/" + uuid + "/" }
