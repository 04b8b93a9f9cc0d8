package esxsim

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Scenario describes a simulated host: its identity, datastores, VMs,
// devices, recorded outputs and faults. Scenarios are YAML files (see
// examples/lab/); unset fields take defaults that look like a fresh ESXi 8
// host.
type Scenario struct {
	Host       HostSpec      `yaml:"host"`
	Datastores []Datastore   `yaml:"datastores"`
	VMs        []VMSpec      `yaml:"vms"`
	Devices    []DeviceSpec  `yaml:"devices"`
	USB        []USBSpec     `yaml:"usb"`
	Recorded   []Recorded    `yaml:"recorded"`
	Faults     []Fault       `yaml:"faults"`
	Files      []ExtraFile   `yaml:"files"`
	Start      time.Time     `yaml:"start"`
	Options    ScenarioFlags `yaml:"options"`

	// Dir is the folder the scenario was loaded from; recorded outputs
	// may name files relative to it.
	Dir string `yaml:"-"`

	// addressGiven: a fleet's host named its address (it listens there).
	addressGiven bool
}

// ScenarioFlags tune behaviour that differs between ESXi builds.
type ScenarioFlags struct {
	// DDThirdStatusLine adds busybox dd's "N bytes (X) copied" line.
	DDThirdStatusLine bool `yaml:"dd_third_status_line"`
	// MissingCommands are left out of this host ("sh: X: not found"), to
	// stand for builds without esxcfg-nas, sha256sum or mkfifo.
	MissingCommands []string `yaml:"missing_commands"`
}

// missing reports whether the scenario leaves command name out.
func (f ScenarioFlags) missing(name string) bool {
	for _, m := range f.MissingCommands {
		if m == name {
			return true
		}
	}
	return false
}

// HostSpec is the host's identity and login.
type HostSpec struct {
	Hostname string `yaml:"hostname"`
	Domain   string `yaml:"domain"`
	Version  string `yaml:"version"` // 8.0.2
	Build    string `yaml:"build"`   // 22380479
	Update   string `yaml:"update"`  // 2
	Patch    string `yaml:"patch"`   // 0 ("" omits the line, as 5.5 did)
	// BuildDate is shown by uname -a ("Sep  4 2023 15:00:56").
	BuildDate string `yaml:"build_date"`
	User      string `yaml:"user"`
	Password  string `yaml:"password"`
	// AuthorizedKeys are OpenSSH public key lines accepted for User.
	AuthorizedKeys []string `yaml:"authorized_keys"`
	// Banner is sent before authentication (ESXi: /etc/issue, empty by
	// default).
	Banner string `yaml:"banner"`
	// SSHVersion is the server's identification string.
	SSHVersion string `yaml:"ssh_version"`
	// Address is the host's management IP, as the sink sees it.
	Address string `yaml:"address"`
	// SSH is the TSM-SSH service's state when the lab starts: running
	// (default) or stopped, ESXi's default and the state vCenter's
	// StartService changes.
	SSH string `yaml:"ssh"`
	// SSHPolicy is the service's startup policy: on (start with the host),
	// off (start by hand) or automatic (with its firewall ports). Default:
	// on when SSH is running, off when stopped.
	SSHPolicy string `yaml:"ssh_policy"`
	// Lockdown is the host's lockdown mode: disabled (default), normal or
	// strict. A host in lockdown refuses SSH logins from users not in
	// LockdownExceptions, as ESXi does.
	Lockdown           string   `yaml:"lockdown"`
	LockdownExceptions []string `yaml:"lockdown_exceptions"`
	// Advanced overrides advanced settings (esxcli system settings
	// advanced, and the vSphere API's OptionManager) by key, in the API's
	// form (UserVars.ESXiShellTimeOut) or esxcli's (/UserVars/...).
	Advanced map[string]string `yaml:"advanced"`
}

// Datastore is a VMFS datastore.
type Datastore struct {
	Name     string `yaml:"name"`
	UUID     string `yaml:"uuid"`
	Type     string `yaml:"type"` // VMFS-6 (default) or VMFS-5
	Capacity Size   `yaml:"capacity"`
	Free     Size   `yaml:"free"`
	// Device is the LUN or local disk holding the datastore.
	Device string `yaml:"device"`

	// shared: a fleet's datastore that other hosts mount too, one set of
	// files for all of them.
	shared bool
}

// VMSpec is a virtual machine.
type VMSpec struct {
	ID         int    `yaml:"id"`
	Name       string `yaml:"name"`
	Datastore  string `yaml:"datastore"`
	Folder     string `yaml:"folder"`
	File       string `yaml:"file"` // .vmx name; default <name>.vmx
	GuestOS    string `yaml:"guest_os"`
	HWVersion  int    `yaml:"hw_version"`
	Power      string `yaml:"power"` // on, off, suspended
	MemoryMB   int    `yaml:"memory_mb"`
	CPUs       int    `yaml:"cpus"`
	Annotation string `yaml:"annotation"`
	// Unregistered VMs have files on a datastore but no vmid.
	Unregistered bool           `yaml:"unregistered"`
	Disks        []DiskSpec     `yaml:"disks"`
	Snapshots    []SnapshotSpec `yaml:"snapshots"`
	// Current names the snapshot the VM runs from; default the last one
	// listed (depth first).
	Current string `yaml:"current"`
	UUID    string `yaml:"uuid"`
	// Logs is the number of rotated vmware-N.log files.
	Logs int `yaml:"logs"`
}

// DiskSpec is one virtual disk.
type DiskSpec struct {
	Node string `yaml:"node"` // scsi0:0 (default by position)
	// Name is the descriptor's base name; default <vm>.vmdk, <vm>_1.vmdk.
	Name string `yaml:"name"`
	Size Size   `yaml:"size"`
	// Kind: thick (default), thin, rdm (virtual), rdmp (physical),
	// independent-persistent, independent-nonpersistent.
	Kind string `yaml:"kind"`
	// Device is the LUN an RDM maps (a /vmfs/devices/disks name).
	Device string `yaml:"device"`
	Seed   uint64 `yaml:"seed"`
	// ZeroPermille is the share of 1 MiB regions that are zero.
	ZeroPermille *int   `yaml:"zero_permille"`
	Adapter      string `yaml:"adapter"`
	// Datastore and Folder place the disk outside the VM folder: in
	// another folder of the VM's datastore (the .vmx names it
	// "../FOLDER/NAME") or on another datastore (an absolute
	// /vmfs/volumes/<uuid>/FOLDER/NAME). Snapshot deltas still go to the
	// VM folder, naming such a parent by its absolute path, as ESXi does.
	// Default: the VM's datastore and folder.
	Datastore string `yaml:"datastore"`
	Folder    string `yaml:"folder"`
	// Files are planted in the disk's file system, beside the guest's
	// default files (see guestdisk.go).
	Files []GuestFile `yaml:"files"`
}

// SnapshotSpec is a snapshot in a VM's tree.
type SnapshotSpec struct {
	Name        string         `yaml:"name"`
	Description string         `yaml:"description"`
	Created     time.Time      `yaml:"created"`
	Memory      bool           `yaml:"memory"`
	Quiesced    bool           `yaml:"quiesced"`
	State       string         `yaml:"state"` // powered on/off at the time
	Children    []SnapshotSpec `yaml:"children"`
}

// DeviceSpec is a disk device under /vmfs/devices/disks.
type DeviceSpec struct {
	ID     string `yaml:"id"`   // naa.*, t10.*, mpx.*
	Kind   string `yaml:"kind"` // lun, local, usb
	Vendor string `yaml:"vendor"`
	Model  string `yaml:"model"`
	Size   Size   `yaml:"size"`
	Seed   uint64 `yaml:"seed"`
	// VML is the vml.* alias; derived from ID when empty.
	VML        string `yaml:"vml"`
	Partitions []Size `yaml:"partitions"`
	SSD        bool   `yaml:"ssd"`
	Display    string `yaml:"display_name"`
	// Files are planted in the file system of a lun or usb device.
	Files []GuestFile `yaml:"files"`
}

// USBSpec is a device lsusb lists.
type USBSpec struct {
	Bus    int    `yaml:"bus"`
	Device int    `yaml:"device"`
	ID     string `yaml:"id"` // vvvv:pppp
	Name   string `yaml:"name"`
	// Disk names the /vmfs/devices/disks entry of a mass-storage device.
	Disk string `yaml:"disk"`
}

// Recorded replaces a command's output with text recorded on a real host.
type Recorded struct {
	// Command is matched against the command's words joined by single
	// spaces, after the shell's expansion ("vim-cmd vmsvc/get.summary 1").
	Command string `yaml:"command"`
	Stdout  string `yaml:"stdout"`
	Stderr  string `yaml:"stderr"`
	Exit    int    `yaml:"exit"`
	// StdoutFile reads the output from a file next to the scenario.
	StdoutFile string `yaml:"stdout_file"`
	// Source says where the text was recorded.
	Source string `yaml:"source"`
}

// ExtraFile is a small file placed on the host.
type ExtraFile struct {
	Path    string `yaml:"path"`
	Content string `yaml:"content"`
}

// Size is a byte count written as 1048576, 64MiB, 1GiB, 2G, 500GB, 1TiB.
type Size int64

// UnmarshalYAML parses sizes with binary (KiB, MiB, K, M ...) and
// decimal (KB, MB ...) suffixes.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = v
	return nil
}

// ParseSize parses a size such as 64MiB or 1G.
func ParseSize(t string) (Size, error) {
	t = strings.TrimSpace(strings.ReplaceAll(t, "_", ""))
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') {
		i--
	}
	num, suf := t[:i], strings.TrimSpace(t[i:])
	mult := map[string]int64{"": 1, "B": 1, "K": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MIB": 1 << 20,
		"G": 1 << 30, "GIB": 1 << 30, "T": 1 << 40, "TIB": 1 << 40, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[strings.ToUpper(suf)]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)", t, suf)
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q is not a number", t)
	}
	return Size(n * float64(mult)), nil
}

// LoadScenario reads a scenario file.
func LoadScenario(file string) (*Scenario, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	sc, err := ParseScenario(b)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", file, err)
	}
	sc.Dir = filepath.Dir(file)
	return sc, nil
}

// ParseScenario parses scenario YAML; unknown keys are errors, so a typo
// does not silently change an exercise.
func ParseScenario(b []byte) (*Scenario, error) {
	var sc Scenario
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&sc); err != nil {
		return nil, err
	}
	if err := sc.normalize(); err != nil {
		return nil, err
	}
	return &sc, nil
}

// stableHash derives deterministic identifiers from names.
func stableHash(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return splitmix(h.Sum64())
}

func hexOf(h uint64, n int) string {
	s := fmt.Sprintf("%016x", h)
	for len(s) < n {
		s += fmt.Sprintf("%016x", splitmix(h+uint64(len(s))))
	}
	return s[:n]
}

// vmfsUUID makes a VMFS-style volume UUID (8-8-4-12 hex).
func vmfsUUID(seed string) string {
	h := stableHash("vmfs", seed)
	s := hexOf(h, 32)
	return s[0:8] + "-" + s[8:16] + "-" + s[16:20] + "-" + s[20:32]
}

// normalizeDatastore checks datastore number i and fills its defaults.
func normalizeDatastore(d Datastore, i int) (Datastore, error) {
	if d.Name == "" {
		return d, fmt.Errorf("datastore %d has no name", i+1)
	}
	if d.UUID == "" {
		d.UUID = vmfsUUID(d.Name)
	}
	if d.Type == "" {
		d.Type = "VMFS-6"
	}
	if d.Type != "VMFS-6" && d.Type != "VMFS-5" {
		return d, fmt.Errorf("datastore %q: type %q (want VMFS-6 or VMFS-5)", d.Name, d.Type)
	}
	if d.Capacity == 0 {
		d.Capacity = 500 << 30
	}
	if d.Free == 0 {
		d.Free = d.Capacity * 3 / 4
	}
	return d, nil
}

// defaultStart is the clock of a scenario that names no start.
var defaultStart = time.Date(2024, 3, 14, 9, 26, 53, 0, time.UTC)

// normalize fills defaults and checks references.
func (sc *Scenario) normalize() error {
	h := &sc.Host
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&h.Hostname, "esx01")
	def(&h.Version, "8.0.2")
	def(&h.Build, "22380479")
	def(&h.Update, "2")
	def(&h.BuildDate, "Sep  4 2023 15:00:56")
	def(&h.User, "root")
	def(&h.SSHVersion, "SSH-2.0-OpenSSH_9.3")
	def(&h.Address, "127.0.0.1")
	if err := h.normalizeServices(); err != nil {
		return err
	}
	if sc.Start.IsZero() {
		sc.Start = defaultStart
	}
	if len(sc.Datastores) == 0 {
		sc.Datastores = []Datastore{{Name: "datastore1"}}
	}
	dsNames := map[string]bool{}
	for i := range sc.Datastores {
		d, err := normalizeDatastore(sc.Datastores[i], i)
		if err != nil {
			return err
		}
		if dsNames[d.Name] {
			return fmt.Errorf("datastore %q listed twice", d.Name)
		}
		dsNames[d.Name] = true
		sc.Datastores[i] = d
	}
	ids := map[int]bool{}
	// diskAt names the disk at each datastore/folder/name, so two disks
	// never take one place.
	diskAt := map[[3]string]string{}
	next := 1
	for _, v := range sc.VMs {
		ids[v.ID] = true
	}
	for i := range sc.VMs {
		v := &sc.VMs[i]
		if v.Name == "" {
			return fmt.Errorf("vm %d has no name", i+1)
		}
		if v.Datastore == "" {
			v.Datastore = sc.Datastores[0].Name
		}
		if !dsNames[v.Datastore] {
			return fmt.Errorf("vm %q: unknown datastore %q", v.Name, v.Datastore)
		}
		if v.ID == 0 && !v.Unregistered {
			for ids[next] {
				next++
			}
			v.ID = next
			ids[next] = true
		}
		def(&v.Folder, v.Name)
		def(&v.File, v.Name+".vmx")
		if strings.ContainsAny(v.Folder+v.File, "/\n") {
			return fmt.Errorf("vm %q: folder and file names cannot hold a slash or newline", v.Name)
		}
		def(&v.GuestOS, "otherGuest64")
		def(&v.Power, "off")
		switch v.Power {
		case "on", "off", "suspended":
		default:
			return fmt.Errorf("vm %q: power %q (want on, off or suspended)", v.Name, v.Power)
		}
		if v.HWVersion == 0 {
			v.HWVersion = 19
		}
		if v.MemoryMB == 0 {
			v.MemoryMB = 1024
		}
		if v.CPUs == 0 {
			v.CPUs = 1
		}
		if v.UUID == "" {
			s := hexOf(stableHash("vm", v.Name, v.Datastore, v.Folder), 32)
			v.UUID = spacedUUID(s)
		}
		names := map[string]bool{}
		for j := range v.Disks {
			d := &v.Disks[j]
			if d.Node == "" {
				d.Node = fmt.Sprintf("scsi0:%d", j)
				if j >= 7 {
					d.Node = fmt.Sprintf("scsi0:%d", j+1)
				}
			}
			stem := strings.TrimSuffix(v.File, ".vmx")
			if d.Name == "" {
				d.Name = stem + ".vmdk"
				if j > 0 {
					d.Name = fmt.Sprintf("%s_%d.vmdk", stem, j)
				}
			}
			if strings.ContainsAny(d.Name, "\"/\n") || !strings.HasSuffix(d.Name, ".vmdk") {
				return fmt.Errorf("vm %q disk %q: a disk name ends in .vmdk and has no quote, slash or newline (descriptors cannot name such extents; give the VM a file: and folder: without them)", v.Name, d.Name)
			}
			def(&d.Datastore, v.Datastore)
			def(&d.Folder, v.Folder)
			if !dsNames[d.Datastore] {
				return fmt.Errorf("vm %q disk %s: unknown datastore %q", v.Name, d.Name, d.Datastore)
			}
			if strings.ContainsAny(d.Folder, "/\n") || d.Folder == "." || d.Folder == ".." {
				return fmt.Errorf("vm %q disk %s: folder %q is one folder of the datastore's top: no slash or newline, not . or ..", v.Name, d.Name, d.Folder)
			}
			at := [3]string{d.Datastore, d.Folder, d.Name}
			if other, ok := diskAt[at]; ok {
				return fmt.Errorf("vm %q disk %s: [%s] %s/%s is already %s's", v.Name, d.Name, d.Datastore, d.Folder, d.Name, other)
			}
			diskAt[at] = fmt.Sprintf("vm %q disk %s", v.Name, d.Name)
			if names[d.Name] {
				// Snapshot deltas of every disk go to the VM folder,
				// named after the disk.
				return fmt.Errorf("vm %q: two disks named %s (their snapshot deltas would share names in the VM folder)", v.Name, d.Name)
			}
			names[d.Name] = true
			def(&d.Kind, "thick")
			switch d.Kind {
			case "thick", "thin", "independent-persistent", "independent-nonpersistent":
				if d.Size == 0 {
					d.Size = 64 << 20
				}
			case "rdm", "rdmp":
				if d.Device == "" {
					return fmt.Errorf("vm %q disk %s: an RDM needs device:", v.Name, d.Name)
				}
				if len(d.Files) > 0 {
					return fmt.Errorf("vm %q disk %s: an RDM shows its LUN's bytes: plant files: on device %s instead", v.Name, d.Name, d.Device)
				}
			default:
				return fmt.Errorf("vm %q disk %s: kind %q (want thick, thin, rdm, rdmp, independent-persistent, independent-nonpersistent)", v.Name, d.Name, d.Kind)
			}
			if d.Size%512 != 0 {
				return fmt.Errorf("vm %q disk %s: size %d is not a multiple of 512", v.Name, d.Name, d.Size)
			}
			if d.Seed == 0 {
				d.Seed = stableHash("disk", v.Name, d.Name)
			}
			def(&d.Adapter, "lsilogic")
			if err := checkGuestFiles(fmt.Sprintf("vm %q disk %s", v.Name, d.Name), d.Files); err != nil {
				return err
			}
		}
	}
	for i := range sc.Devices {
		d := &sc.Devices[i]
		if d.ID == "" {
			return fmt.Errorf("device %d has no id", i+1)
		}
		def(&d.Kind, "lun")
		if d.Size == 0 {
			d.Size = 1 << 30
		}
		if d.Seed == 0 {
			d.Seed = stableHash("device", d.ID)
		}
		def(&d.VML, vmlOf(d.ID))
		def(&d.Vendor, map[string]string{"usb": "SanDisk", "local": "ATA"}[d.Kind])
		def(&d.Vendor, "DGC")
		def(&d.Model, map[string]string{"usb": "Ultra Fit", "local": "Virtual disk"}[d.Kind])
		def(&d.Model, "VRAID")
		if err := checkGuestFiles(fmt.Sprintf("device %s", d.ID), d.Files); err != nil {
			return err
		}
	}
	for _, v := range sc.VMs {
		for _, d := range v.Disks {
			if d.Device != "" && sc.device(d.Device) == nil {
				return fmt.Errorf("vm %q disk %s: unknown device %q (list it under devices:)", v.Name, d.Name, d.Device)
			}
		}
		if err := checkSnapshots(v); err != nil {
			return err
		}
	}
	for _, f := range sc.Faults {
		if err := f.validate(); err != nil {
			return err
		}
	}
	return nil
}

func checkSnapshots(v VMSpec) error {
	names := map[string]bool{}
	var walk func([]SnapshotSpec) error
	walk = func(ss []SnapshotSpec) error {
		for _, s := range ss {
			if s.Name == "" {
				return fmt.Errorf("vm %q: a snapshot has no name", v.Name)
			}
			names[s.Name] = true
			if err := walk(s.Children); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(v.Snapshots); err != nil {
		return err
	}
	if v.Current != "" && !names[v.Current] {
		return fmt.Errorf("vm %q: current snapshot %q is not in its tree", v.Name, v.Current)
	}
	return nil
}

func (sc *Scenario) device(id string) *DeviceSpec {
	for i := range sc.Devices {
		if sc.Devices[i].ID == id || sc.Devices[i].VML == id {
			return &sc.Devices[i]
		}
	}
	return nil
}

// vmlOf derives a vml.* identifier from a device name, as ESXi derives
// one from the SCSI inquiry data.
func vmlOf(id string) string {
	return "vml.02000000" + hexOf(stableHash("vml", id), 40) + "564d77617265"
}

func spacedUUID(hex32 string) string {
	var b strings.Builder
	for i := 0; i < 32; i += 2 {
		if i == 16 {
			b.WriteString("-")
		} else if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(hex32[i : i+2])
	}
	return b.String()
}

var errNoSuchVM = errors.New("no such vm")

// normalizeServices checks and defaults the TSM-SSH service, lockdown
// mode and advanced settings.
func (h *HostSpec) normalizeServices() error {
	switch h.SSH {
	case "":
		h.SSH = SSHRunning
	case SSHRunning, SSHStopped:
	default:
		return fmt.Errorf("host %s: ssh %q (want running or stopped)", h.Hostname, h.SSH)
	}
	switch h.SSHPolicy {
	case "":
		h.SSHPolicy = PolicyOff
		if h.SSH == SSHRunning {
			h.SSHPolicy = PolicyOn
		}
	case PolicyOn, PolicyOff, PolicyAutomatic:
	default:
		return fmt.Errorf("host %s: ssh_policy %q (want on, off or automatic)", h.Hostname, h.SSHPolicy)
	}
	switch h.Lockdown {
	case "":
		h.Lockdown = LockdownDisabled
	case LockdownDisabled, LockdownNormal, LockdownStrict:
	default:
		return fmt.Errorf("host %s: lockdown %q (want disabled, normal or strict)", h.Hostname, h.Lockdown)
	}
	adv := make(map[string]string, len(h.Advanced))
	for k, v := range h.Advanced {
		o := findAdvanced(k)
		if o == nil {
			return fmt.Errorf("host %s: advanced setting %q is not one the simulator knows (%s)", h.Hostname, k, strings.Join(advancedKeys(), ", "))
		}
		if _, err := o.parse(v); err != nil {
			return fmt.Errorf("host %s: advanced setting %s: %w", h.Hostname, o.key(), err)
		}
		adv[o.key()] = v
	}
	h.Advanced = adv
	return nil
}
