package vsphere

import (
	"time"

	"github.com/esxsink/esxsink/custody"
)

// Inventory is what an endpoint's API says it manages. Every list is
// sorted, so that the same inventory always marshals to the same JSON.
type Inventory struct {
	// Endpoint is host:port; APIType "VirtualCenter" or "HostAgent".
	Endpoint     string       `json:"endpoint"`
	APIType      string       `json:"api_type"`
	Product      string       `json:"product"`
	Version      string       `json:"version"`
	Build        string       `json:"build"`
	InstanceUUID string       `json:"instance_uuid,omitempty"`
	Datacenters  []Datacenter `json:"datacenters"`
}

// Datacenter holds its clusters, every host (clustered or standalone),
// datastores and VMs. Hosts, clusters and datastores refer to each other
// by name, which vCenter keeps unique within a datacenter; VMs by moref,
// since two VMs in different folders may share a name.
type Datacenter struct {
	Name       string      `json:"name"`
	MoRef      string      `json:"moref"`
	Clusters   []Cluster   `json:"clusters"`
	Hosts      []Host      `json:"hosts"`
	Datastores []Datastore `json:"datastores"`
	VMs        []VM        `json:"vms"`
}

// Cluster names its hosts.
type Cluster struct {
	Name  string   `json:"name"`
	MoRef string   `json:"moref"`
	Hosts []string `json:"hosts"`
}

// Lockdown modes (Host.LockdownMode), as the API names them.
const (
	LockdownDisabled = "lockdownDisabled"
	LockdownNormal   = "lockdownNormal"
	LockdownStrict   = "lockdownStrict"
)

// SSHService is the key of ESXi's SSH service.
const SSHService = "TSM-SSH"

// Host is one ESXi host.
type Host struct {
	Name  string `json:"name"`
	MoRef string `json:"moref"`
	// Cluster is "" for a standalone host.
	Cluster string `json:"cluster,omitempty"`
	// ManagementAddresses are the IP addresses of the vmkernel interfaces
	// tagged for management: where SSH reaches the host.
	ManagementAddresses []string `json:"management_addresses"`
	Product             string   `json:"product"`
	Version             string   `json:"version"`
	Build               string   `json:"build"`
	// ConnectionState is connected, disconnected or notResponding (to
	// vCenter); PowerState poweredOn, poweredOff, standBy or unknown.
	ConnectionState string `json:"connection_state"`
	PowerState      string `json:"power_state"`
	MaintenanceMode bool   `json:"maintenance_mode"`
	// LockdownMode is one of the Lockdown constants; "" when the host did
	// not say (a disconnected host has no configuration to read).
	LockdownMode string `json:"lockdown_mode"`
	// SSH is the TSM-SSH service; nil when the host did not say.
	SSH *custody.ServiceState `json:"ssh"`
}

// InLockdown says whether the host refuses direct logins (SSH included)
// outside its exception users.
func (h Host) InLockdown() bool {
	return h.LockdownMode == LockdownNormal || h.LockdownMode == LockdownStrict
}

// Datastore is one datastore and the hosts that mount it.
type Datastore struct {
	Name  string `json:"name"`
	MoRef string `json:"moref"`
	// UUID is the name of its folder under /vmfs/volumes; URL as the API
	// gives it (ds:///vmfs/volumes/UUID/).
	UUID string `json:"uuid"`
	URL  string `json:"url"`
	// Type is VMFS, NFS, NFS41, vsan or VVOL.
	Type          string `json:"type"`
	CapacityBytes int64  `json:"capacity_bytes"`
	FreeBytes     int64  `json:"free_bytes"`
	Accessible    bool   `json:"accessible"`
	// Remote is an NFS datastore's server and export, HOST:/PATH.
	Remote string           `json:"remote,omitempty"`
	Hosts  []DatastoreMount `json:"hosts"`
}

// DatastoreMount is one host's mount of a datastore.
type DatastoreMount struct {
	Host       string `json:"host"`
	Path       string `json:"path"`
	AccessMode string `json:"access_mode"`
	Mounted    bool   `json:"mounted"`
	Accessible bool   `json:"accessible"`
}

// VM is one registered virtual machine.
type VM struct {
	Name  string `json:"name"`
	MoRef string `json:"moref"`
	// VMID is the host's own id of the VM, as vim-cmd vmsvc/getallvms
	// shows it. Only an ESXi host's own API tells it (there the moref is
	// the vmid); through vCenter it is 0, and the VM is matched to what
	// SSH finds by its VMX path instead.
	VMID int `json:"vmid,omitempty"`
	// Host runs the VM, or holds its registration when it is off.
	Host string `json:"host"`
	// PowerState is poweredOn, poweredOff or suspended; ConnectionState
	// connected, orphaned, inaccessible, invalid or disconnected.
	PowerState      string `json:"power_state"`
	ConnectionState string `json:"connection_state"`
	Template        bool   `json:"template,omitempty"`
	GuestOS         string `json:"guest_os,omitempty"`
	BIOSUUID        string `json:"bios_uuid,omitempty"`
	InstanceUUID    string `json:"instance_uuid,omitempty"`
	// VMX is the configuration file, "[datastore] folder/name.vmx".
	VMX   string   `json:"vmx"`
	Files []VMFile `json:"files"`
	// Snapshots is the snapshot tree; CurrentSnapshot the id of the one
	// the VM runs from (0: none).
	Snapshots       []Snapshot `json:"snapshots,omitempty"`
	CurrentSnapshot int32      `json:"current_snapshot,omitempty"`
}

// VMFile is one file of a VM as the host lays it out (layoutEx).
type VMFile struct {
	// Name is "[datastore] path"; Type config, nvram, snapshotData,
	// snapshotList, diskDescriptor, diskExtent, log, swap, …
	Name       string `json:"name"`
	Type       string `json:"type"`
	Size       int64  `json:"size"`
	UniqueSize int64  `json:"unique_size"`
	Accessible bool   `json:"accessible"`
}

// Snapshot is one node of a VM's snapshot tree. ID is the id the .vmsd
// and vim-cmd vmsvc/snapshot.get show.
type Snapshot struct {
	ID          int32      `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	MoRef       string     `json:"moref"`
	Created     time.Time  `json:"created"`
	PowerState  string     `json:"power_state"`
	Quiesced    bool       `json:"quiesced,omitempty"`
	Children    []Snapshot `json:"children,omitempty"`
}

// AllVMs returns the VMs of every datacenter.
func (inv *Inventory) AllVMs() []VM {
	var out []VM
	for _, dc := range inv.Datacenters {
		out = append(out, dc.VMs...)
	}
	return out
}

// AllHosts returns the hosts of every datacenter.
func (inv *Inventory) AllHosts() []Host {
	var out []Host
	for _, dc := range inv.Datacenters {
		out = append(out, dc.Hosts...)
	}
	return out
}
