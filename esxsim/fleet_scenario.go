package esxsim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// FleetScenario describes a lab of several simulated hosts: each host is a
// Scenario of its own (its SSH port, datastores and VMs), datastores some
// of them share, and optionally the vCenter that manages them. A file
// without a hosts: list is a single-host scenario and loads as a fleet of
// one, with Single set.
type FleetScenario struct {
	// Start is the clock of hosts that name no start of their own.
	Start            time.Time         `yaml:"start"`
	VCenter          *VCenterSpec      `yaml:"vcenter"`
	SharedDatastores []SharedDatastore `yaml:"shared_datastores"`
	Hosts            []*Scenario       `yaml:"hosts"`

	// Dir is the folder the file was loaded from.
	Dir string `yaml:"-"`
	// Single: the file is a single-host scenario (no hosts: list).
	Single bool `yaml:"-"`
}

// SharedDatastore is a VMFS datastore several hosts mount: one set of
// files, one UUID, whichever host looks.
type SharedDatastore struct {
	Datastore `yaml:",inline"`
	// Hosts are the hostnames that mount it.
	Hosts []string `yaml:"hosts"`
}

// VCenterSpec is the simulated vCenter: its identity, login, and the
// inventory's shape (datacenters, clusters of the fleet's hosts; hosts
// in no cluster are standalone).
type VCenterSpec struct {
	Hostname   string `yaml:"hostname"`
	Version    string `yaml:"version"`
	Build      string `yaml:"build"`
	User       string `yaml:"user"`
	Password   string `yaml:"password"`
	Datacenter string `yaml:"datacenter"`
	// Datacenters are more datacenters and their hosts; a host none
	// lists is in Datacenter.
	Datacenters []DatacenterSpec `yaml:"datacenters"`
	Clusters    []ClusterSpec    `yaml:"clusters"`
	// Events are placed in the vCenter's event history.
	Events []EventSpec `yaml:"events"`
	// Denied are calls the vCenter refuses its user with NoPermission,
	// as a real one answers a user whose role lacks the privilege (a
	// responder given a narrow account): for exercises and tests of what
	// a tool does when it may not read everything.
	Denied []DeniedCall `yaml:"denied"`
}

// DeniedCall is an API method (RetrieveAllPermissions, QueryOptions, …)
// the vCenter refuses, and the privilege its fault names.
type DeniedCall struct {
	Method    string `yaml:"method"`
	Privilege string `yaml:"privilege"`
}

// DatacenterSpec is a datacenter and its hosts.
type DatacenterSpec struct {
	Name  string   `yaml:"name"`
	Hosts []string `yaml:"hosts"`
}

// ClusterSpec is a cluster and its member hosts.
type ClusterSpec struct {
	Name  string   `yaml:"name"`
	Hosts []string `yaml:"hosts"`
}

// EventSpec is one vCenter event in a scenario's history.
type EventSpec struct {
	// Ago places the event that long before the lab started: the vCenter
	// runs on the real clock, so "the last 30 days" finds the history.
	Ago time.Duration `yaml:"ago"`
	// Kind: login, logout (a user session, from IP), or event (an EventEx
	// with ID, such as esx.audit.ssh.enabled, and Message).
	Kind    string `yaml:"kind"`
	User    string `yaml:"user"`
	IP      string `yaml:"ip"`
	Host    string `yaml:"host"`
	VM      string `yaml:"vm"`
	ID      string `yaml:"id"`
	Message string `yaml:"message"`
}

// LoadFleet reads a scenario file of either form.
func LoadFleet(file string) (*FleetScenario, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	fs, err := ParseFleet(b)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", file, err)
	}
	fs.Dir = filepath.Dir(file)
	for _, h := range fs.Hosts {
		h.Dir = fs.Dir
	}
	return fs, nil
}

// ParseFleet parses scenario YAML: a fleet when it has a hosts: list, a
// single host otherwise. Unknown keys are errors.
func ParseFleet(b []byte) (*FleetScenario, error) {
	var top yaml.Node
	if err := yaml.Unmarshal(b, &top); err != nil {
		return nil, err
	}
	if !hasTopKey(&top, "hosts") {
		sc, err := ParseScenario(b)
		if err != nil {
			return nil, err
		}
		return &FleetScenario{Start: sc.Start, Hosts: []*Scenario{sc}, Single: true}, nil
	}
	var fs FleetScenario
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&fs); err != nil {
		return nil, err
	}
	if err := fs.normalize(); err != nil {
		return nil, err
	}
	return &fs, nil
}

func hasTopKey(doc *yaml.Node, key string) bool {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return false
	}
	m := doc.Content[0].Content
	for i := 0; i+1 < len(m); i += 2 {
		if m[i].Value == key {
			return true
		}
	}
	return false
}

// Host returns the scenario of the host named name, or nil.
func (fs *FleetScenario) Host(name string) *Scenario {
	for _, h := range fs.Hosts {
		if h.Host.Hostname == name {
			return h
		}
	}
	return nil
}

// normalize checks the fleet's references, gives each member host its
// shared datastores, then normalizes every host.
func (fs *FleetScenario) normalize() error {
	if len(fs.Hosts) == 0 {
		return fmt.Errorf("hosts: is empty")
	}
	if fs.Start.IsZero() {
		fs.Start = defaultStart
	}
	names := map[string]bool{}
	for i, h := range fs.Hosts {
		if h == nil || h.Host.Hostname == "" {
			return fmt.Errorf("host %d has no host.hostname (every host of a fleet names itself)", i+1)
		}
		if names[h.Host.Hostname] {
			return fmt.Errorf("host %q listed twice", h.Host.Hostname)
		}
		names[h.Host.Hostname] = true
		if h.Start.IsZero() {
			h.Start = fs.Start
		}
		h.addressGiven = h.Host.Address != ""
	}
	// Two hosts may each have a datastore of one name (every fresh ESXi
	// names its disk datastore1), if each gives its own uuid: (the
	// default is made of the name). vCenter refuses the pair in one
	// datacenter (VCenterSpec.normalize).
	dsOwner := map[string]string{}
	uuids := map[string]string{} // given uuid -> host
	for _, h := range fs.Hosts {
		for _, d := range h.Datastores {
			if o, ok := dsOwner[d.Name]; ok && d.UUID == "" {
				return fmt.Errorf("datastore %q is listed by hosts %s and %s: two datastores of one name need a uuid: each (list it under shared_datastores: if both mount it)", d.Name, o, h.Host.Hostname)
			}
			if o, ok := uuids[d.UUID]; ok && d.UUID != "" {
				return fmt.Errorf("datastore uuid %s is listed by hosts %s and %s: list it under shared_datastores: if both mount it", d.UUID, o, h.Host.Hostname)
			}
			dsOwner[d.Name] = h.Host.Hostname
			if d.UUID != "" {
				uuids[d.UUID] = h.Host.Hostname
			}
		}
	}
	for i := range fs.SharedDatastores {
		sd := &fs.SharedDatastores[i]
		d, err := normalizeDatastore(sd.Datastore, i)
		if err != nil {
			return fmt.Errorf("shared datastore: %w", err)
		}
		if o, ok := dsOwner[d.Name]; ok {
			return fmt.Errorf("shared datastore %q: host %s lists a datastore of that name", d.Name, o)
		}
		dsOwner[d.Name] = "shared"
		if len(sd.Hosts) == 0 {
			return fmt.Errorf("shared datastore %q: hosts: names no host", d.Name)
		}
		d.shared = true
		sd.Datastore = d
		for _, hn := range sd.Hosts {
			h := fs.Host(hn)
			if h == nil {
				return fmt.Errorf("shared datastore %q: unknown host %q", d.Name, hn)
			}
			if slices.ContainsFunc(h.Datastores, func(x Datastore) bool { return x.Name == d.Name }) {
				return fmt.Errorf("shared datastore %q: host %s listed twice", d.Name, hn)
			}
			h.Datastores = append(h.Datastores, d)
		}
	}
	for _, h := range fs.Hosts {
		if err := h.normalize(); err != nil {
			return fmt.Errorf("host %s: %w", h.Host.Hostname, err)
		}
	}
	if err := fs.checkSharedFolders(); err != nil {
		return err
	}
	if fs.VCenter != nil {
		if err := fs.VCenter.normalize(fs); err != nil {
			return fmt.Errorf("vcenter: %w", err)
		}
	}
	return nil
}

// checkSharedFolders refuses two VMs in one folder of a shared datastore:
// each host would write the other's files.
func (fs *FleetScenario) checkSharedFolders() error {
	seen := map[string]string{}
	for _, h := range fs.Hosts {
		for _, v := range h.VMs {
			if !h.datastore(v.Datastore).shared {
				continue
			}
			k := v.Datastore + "\x00" + v.Folder
			if o, ok := seen[k]; ok {
				return fmt.Errorf("shared datastore %q: VMs %s and %s/%s use one folder %q", v.Datastore, o, h.Host.Hostname, v.Name, v.Folder)
			}
			seen[k] = h.Host.Hostname + "/" + v.Name
		}
	}
	return nil
}

func (sc *Scenario) datastore(name string) *Datastore {
	for i := range sc.Datastores {
		if sc.Datastores[i].Name == name {
			return &sc.Datastores[i]
		}
	}
	return &Datastore{}
}

// Shared returns the hosts that mount the datastore of that UUID: every
// host of the fleet that lists it.
func (fs *FleetScenario) Shared(uuid string) []string {
	var out []string
	for _, h := range fs.Hosts {
		if slices.ContainsFunc(h.Datastores, func(d Datastore) bool { return d.UUID == uuid }) {
			out = append(out, h.Host.Hostname)
		}
	}
	return out
}

func (vc *VCenterSpec) normalize(fs *FleetScenario) error {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&vc.Hostname, "vcsa01")
	def(&vc.Version, "8.0.2")
	def(&vc.Build, "22385739")
	def(&vc.User, "administrator@vsphere.local")
	def(&vc.Password, "VMware1!")
	def(&vc.Datacenter, "Datacenter")
	for i := range vc.Denied {
		if vc.Denied[i].Method == "" {
			return fmt.Errorf("vcenter: denied call %d names no method", i+1)
		}
		def(&vc.Denied[i].Privilege, "System.View")
	}
	inDC := map[string]string{}
	dcs := map[string]bool{vc.Datacenter: true}
	for _, d := range vc.Datacenters {
		if err := fs.checkGroup("datacenter", d.Name, d.Hosts, dcs, inDC); err != nil {
			return err
		}
	}
	// vCenter keeps datastore names unique in a datacenter (it renames a
	// newcomer's datastore1 "datastore1 (1)").
	dsIn := map[string]string{}
	for _, h := range fs.Hosts {
		for _, d := range h.Datastores {
			k := vc.DatacenterOf(h.Host.Hostname) + "\x00" + d.Name
			if u, ok := dsIn[k]; ok && u != d.UUID {
				return fmt.Errorf("two datastores named %q in datacenter %s: vCenter would rename one; put the hosts in different datacenters:", d.Name, vc.DatacenterOf(h.Host.Hostname))
			}
			dsIn[k] = d.UUID
		}
	}
	inCluster := map[string]string{}
	clusters := map[string]bool{}
	for _, c := range vc.Clusters {
		if err := fs.checkGroup("cluster", c.Name, c.Hosts, clusters, inCluster); err != nil {
			return err
		}
		for _, hn := range c.Hosts {
			if dc := vc.DatacenterOf(c.Hosts[0]); vc.DatacenterOf(hn) != dc {
				return fmt.Errorf("cluster %s: host %s is not in datacenter %s", c.Name, hn, dc)
			}
		}
	}
	// vCenter keeps VM names unique in a folder; the lab has one.
	vms := map[string]string{}
	for _, h := range fs.Hosts {
		for _, v := range h.VMs {
			if v.Unregistered {
				continue
			}
			if o, ok := vms[v.Name]; ok {
				return fmt.Errorf("VM %q is on hosts %s and %s: vCenter needs unique VM names", v.Name, o, h.Host.Hostname)
			}
			vms[v.Name] = h.Host.Hostname
		}
	}
	for i, e := range vc.Events {
		switch e.Kind {
		case "login", "logout", "event":
		default:
			return fmt.Errorf("event %d: kind %q (want login, logout or event)", i+1, e.Kind)
		}
		if e.Host != "" && fs.Host(e.Host) == nil {
			return fmt.Errorf("event %d: unknown host %q", i+1, e.Host)
		}
		if _, ok := vms[e.VM]; e.VM != "" && !ok {
			return fmt.Errorf("event %d: unknown VM %q", i+1, e.VM)
		}
		if e.Kind == "event" && e.ID == "" {
			return fmt.Errorf("event %d: an event needs an id (esx.audit.ssh.enabled ...)", i+1)
		}
		if e.Ago < 0 {
			return fmt.Errorf("event %d: ago %s is in the future", i+1, e.Ago)
		}
	}
	return nil
}

// checkGroup checks a group of hosts of a kind (a datacenter, a
// cluster): a name of its own among names, hosts of the fleet, each in
// no other group of the kind; member records host -> group.
func (fs *FleetScenario) checkGroup(kind, name string, hosts []string, names map[string]bool, member map[string]string) error {
	if name == "" || names[name] {
		return fmt.Errorf("%s %q: a %s needs a name of its own", kind, name, kind)
	}
	names[name] = true
	for _, hn := range hosts {
		if fs.Host(hn) == nil {
			return fmt.Errorf("%s %s: unknown host %q", kind, name, hn)
		}
		if o, ok := member[hn]; ok {
			return fmt.Errorf("host %s is in %ss %s and %s", hn, kind, o, name)
		}
		member[hn] = name
	}
	return nil
}

// DatacenterOf returns the datacenter host is in.
func (vc *VCenterSpec) DatacenterOf(host string) string {
	for _, d := range vc.Datacenters {
		if slices.Contains(d.Hosts, host) {
			return d.Name
		}
	}
	return vc.Datacenter
}

// DatacenterNames returns the datacenters: Datacenter, then Datacenters.
func (vc *VCenterSpec) DatacenterNames() []string {
	out := []string{vc.Datacenter}
	for _, d := range vc.Datacenters {
		out = append(out, d.Name)
	}
	return out
}

// Cluster returns the cluster host name belongs to ("" when standalone).
func (vc *VCenterSpec) Cluster(host string) string {
	for _, c := range vc.Clusters {
		if slices.Contains(c.Hosts, host) {
			return c.Name
		}
	}
	return ""
}
