package orchestrator

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"unicode"

	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxi"
)

// Kinds of planned files.
const (
	KindDescriptor = esxi.FileDescriptor
	KindExtent     = esxi.FileExtent
	KindDelta      = esxi.FileDelta
	KindRDM        = "rdm-mapping"
	KindLUN        = "lun"
	KindDevice     = "device"
	KindConfig     = esxi.FileConfig
	KindSnapshot   = esxi.FileSnapshot
	KindMemory     = esxi.FileMemory
	KindSuspend    = esxi.FileSuspend
	KindLog        = esxi.FileLog
	KindSwap       = esxi.FileSwap
	KindLock       = esxi.FileLock
	KindOther      = esxi.FileOther
)

// ErrNoVMChosen: SelectVMs was given no VM and not all of them.
var ErrNoVMChosen = errors.New("no VM chosen")

// Why SelectVMs refuses a name: the host has no such VM, the VM is
// registered but discovery could not place it, or more than one VM has
// that name.
var (
	ErrNoSuchVM         = errors.New("no VM with vmid, name or .vmx")
	ErrVMNotCollectable = errors.New("registered but cannot be collected")
	ErrAmbiguousVM      = errors.New("VMs share the name")
)

// Methods say how a planned file is acquired.
const (
	// MethodCopy copies the file as it is (the VM is not running, or the
	// file is not a disk).
	MethodCopy = "copy"
	// MethodSnapshot copies the file while our snapshot freezes it.
	MethodSnapshot = "copy-under-snapshot"
	// MethodSkip leaves the file; Note says why.
	MethodSkip = "skip"
)

// PlanItem is one file of the plan.
type PlanItem struct {
	VMID   int    `json:"vmid,omitempty"`
	VMName string `json:"vm"`
	Source string `json:"source"` // absolute host path
	Size   int64  `json:"size"`
	Kind   string `json:"kind"`
	Method string `json:"method"`
	// Dest is the path relative to CASE/evidence.
	Dest string `json:"dest,omitempty"`
	Note string `json:"note,omitempty"`
	// Live marks a file copied while the VM may write it.
	Live bool `json:"live,omitempty"`
	// SizeApprox says Size is an estimate: the copy's size is not checked
	// against it.
	SizeApprox bool `json:"size_approx,omitempty"`
	// Image is, on an RDM's descriptor, where the LUN it maps is imaged
	// (the mapping file itself is not copied).
	Image string `json:"image,omitempty"`

	vm *VM // nil for a host device
	// rescue reads the source in these parts instead of whole blocks
	// (a second copy around bad sectors).
	rescue []esxi.ReadPart
}

// Plan is what collect will do: every file of every chosen VM.
type Plan struct {
	VMs   []*VM      `json:"-"`
	Items []PlanItem `json:"items"`
	// NotCollected is what the host holds that this plan leaves, with the
	// option that would collect it (NoteNotCollected fills it in).
	NotCollected []custody.Uncollected `json:"not_collected,omitempty"`
	// Datastores maps the host's datastores into the evidence folder.
	Datastores []custody.Datastore `json:"datastores,omitempty"`
	// Bytes is the total size of the files to copy.
	Bytes int64 `json:"bytes"`
	Files int   `json:"files"`
	// SinkFree is the free space where the sink writes (-1 unknown).
	SinkFree int64 `json:"sink_free"`
}

// Copies returns the items that are copied (not skipped).
func (p *Plan) Copies() []PlanItem {
	var out []PlanItem
	for _, it := range p.Items {
		if it.Method != MethodSkip {
			out = append(out, it)
		}
	}
	return out
}

// Fits reports whether the sink has room for the plan.
func (p *Plan) Fits() bool { return p.SinkFree < 0 || p.SinkFree >= p.Bytes }

// SelectVMs picks VMs by vmid, name or .vmx path, or all registered ones
// (and unregistered ones when unregistered is set). A name is matched
// exactly as the host stores it, blanks and newlines included. A number
// that is a registered vmid selects that VM even when another VM is named
// like the number: vmids are unique, names are not (that VM is chosen by
// its own vmid or .vmx path).
func SelectVMs(inv *Inventory, names []string, all, unregistered bool) ([]*VM, error) {
	var out []*VM
	seen := map[*VM]bool{}
	add := func(v *VM) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, v := range inv.VMs {
		if (all && v.Registered) || (unregistered && !v.Registered) {
			add(v)
		}
	}
	for _, n := range names {
		v, err := selectVM(inv, n)
		if err != nil {
			return nil, err
		}
		add(v)
	}
	if len(out) == 0 {
		return nil, ErrNoVMChosen
	}
	return out, nil
}

// selectVM finds the one VM n names: by vmid first, then by exact name or
// .vmx path.
func selectVM(inv *Inventory, n string) (*VM, error) {
	if id, err := strconv.Atoi(n); err == nil && strconv.Itoa(id) == n && id > 0 {
		for _, v := range inv.VMs {
			if v.Registered && v.ID == id {
				return v, nil
			}
		}
		for _, u := range inv.Unplaced {
			if u.ID == id {
				return nil, fmt.Errorf("vmid %d on %s is %w: %s", id, inv.Host.Addr, ErrVMNotCollectable, u.Reason)
			}
		}
	}
	var match []*VM
	for _, v := range inv.VMs {
		if v.Name == n || v.VMX == n {
			match = append(match, v)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("%w %q on %s (names match exactly, blanks included)%s", ErrNoSuchVM, n, inv.Host.Addr, nearbyVMs(inv, n))
	case 1:
		return match[0], nil
	}
	var ids []string
	for _, v := range match {
		ids = append(ids, strconv.Itoa(v.ID))
	}
	return nil, fmt.Errorf("%d %w %q on %s (vmids %s): choose one by vmid or .vmx path", len(match), ErrAmbiguousVM, n, inv.Host.Addr, strings.Join(ids, ", "))
}

// maxNearby bounds how many VMs an unknown --vm lists.
const maxNearby = 10

// nearbyVMs lists the VMs an unknown --vm may have meant: names equal but
// for blanks or case, or holding it; or every VM when the host has few.
func nearbyVMs(inv *Inventory, n string) string {
	key := strings.ToLower(strings.TrimSpace(n))
	var near, every []string
	for _, v := range inv.VMs {
		desc := fmt.Sprintf("%q", v.Name)
		if v.Registered {
			desc = fmt.Sprintf("vmid %d %q", v.ID, v.Name)
		}
		name := strings.ToLower(strings.TrimSpace(v.Name))
		if key != "" && (name == key || strings.Contains(name, key) || strings.Contains(key, name) && name != "") {
			near = append(near, desc)
		}
		every = append(every, desc)
	}
	switch {
	case len(near) > 0 && len(near) <= maxNearby:
		return "; did you mean " + strings.Join(near, ", ") + "?"
	case len(every) > 0 && len(every) <= maxNearby:
		return "; the host has " + strings.Join(every, ", ")
	}
	return "; run esxsink inventory to list them"
}

// PlanOptions choose what beyond the VM folders is acquired.
type PlanOptions struct {
	// SinkFree is the sink's free space (-1 when unknown).
	SinkFree int64
	// RDM copies the LUN behind each raw device mapping from
	// /vmfs/devices/disks/. A physical RDM is not frozen by a snapshot:
	// it is copied live, with a warning.
	RDM bool
	// Devices are whole storage devices to copy from
	// /vmfs/devices/disks/ (a USB disk plugged into the host): their
	// sizes as esxcli reports them, in whole MiB, so the size is not
	// checked against the copy.
	Devices []esxi.CoreDevice
	// Independent copies the independent disks of running VMs live, with
	// a warning: a snapshot does not freeze them, so the copy is no
	// moment's image, but without it they are not acquired at all.
	Independent bool
	// All says every registered VM was asked for (--all): one that
	// discovery found but cannot collect makes the run incomplete.
	All bool
	// Datastores are the host's file systems (Inventory.Datastores): the
	// evidence folder mirrors them. Without them a path's datastore
	// folder is the name it has in the path.
	Datastores []esxi.Filesystem
	// Folders are the case's evidence folders of datastores, by UUID
	// (DatastoreFolders): a fleet's hosts and earlier runs of the case
	// agree on them. A datastore it lacks gets the folder its name gives.
	Folders map[string]string
}

// MakePlan plans the acquisition of vms. Each file goes to the path that
// mirrors it on the host (EvidencePath through the datastore table), so
// descriptors keep naming their extents and parents; no file is renamed to
// dodge another. A file two VMs share (a linked clone's base disk, a LUN
// mapped twice) is copied once.
func MakePlan(vms []*VM, o PlanOptions) *Plan {
	p := &Plan{VMs: vms, SinkFree: o.SinkFree, Datastores: DatastoreTable(o.Datastores, o.Folders)}
	taken := map[string]string{} // evidence path -> host path
	for _, vm := range vms {
		roles := diskRoles(vm)
		for _, f := range vm.Files {
			it := PlanItem{VMID: vm.ID, VMName: vm.Name, Source: f.Path, Size: f.Size,
				Dest: EvidencePath(f.Path, p.Datastores), Method: MethodCopy, vm: vm}
			it.Kind = fileKind(f.Name, roles[f.Path])
			classify(vm, &it, roles[f.Path], o)
			p.add(it, taken)
		}
		if o.RDM {
			p.addLUNs(vm, taken)
		}
	}
	for _, dev := range o.Devices {
		src := dev.DevfsPath
		if src == "" {
			src = LUNPrefix + dev.Device
		}
		p.add(PlanItem{Source: src, Size: dev.SizeMB << 20, Kind: KindDevice, Method: MethodCopy,
			Dest: DeviceEvidencePath(dev.Device), SizeApprox: true,
			Note: "whole device; its size is esxcli's, in whole MiB"}, taken)
	}
	return p
}

// add appends it to the plan. A source already planned is not copied
// twice. Two sources never share an evidence path (EvidenceName tags
// every name it had to change), unless a host name equals another's
// tagged name: then the file whose own name it is keeps the path, and
// the other is not collected, recorded as such with both host paths,
// which makes the case incomplete.
func (p *Plan) add(it PlanItem, taken map[string]string) {
	if it.Method != MethodSkip {
		switch other, ok := taken[it.Dest]; {
		case ok && other == it.Source:
			it.Method, it.Note = MethodSkip, "already planned (shared with another VM of this plan): copied once, as "+it.Dest
		case ok && ownName(it) && !p.ownsDest(it.Dest):
			p.evict(it.Dest, it.Source)
			taken[it.Dest] = it.Source
		case ok:
			p.notCollectedClash(&it, other)
		default:
			taken[it.Dest] = it.Source
		}
	}
	if it.Method != MethodSkip {
		p.Bytes += it.Size
		p.Files++
	} else {
		it.Dest = ""
	}
	p.Items = append(p.Items, it)
}

// ownName reports whether it goes to its host path unchanged (its
// datastore folder aside): no name of it was made storable.
func ownName(it PlanItem) bool {
	_, rel, ok := esxi.SplitVolumePath(it.Source)
	return ok && strings.HasSuffix(it.Dest, "/"+rel)
}

// ownsDest reports whether the item planned at dest has it as its own
// name.
func (p *Plan) ownsDest(dest string) bool {
	for _, o := range p.Items {
		if o.Method != MethodSkip && o.Dest == dest {
			return ownName(o)
		}
	}
	return false
}

// evict takes dest from the item planned there, for by, whose own name
// it is: that item is not collected.
func (p *Plan) evict(dest, by string) {
	for i := range p.Items {
		o := &p.Items[i]
		if o.Method == MethodSkip || o.Dest != dest {
			continue
		}
		p.Bytes -= o.Size
		p.Files--
		p.notCollectedClash(o, by)
		o.Dest = ""
		return
	}
}

// notCollectedClash marks it as not collected because other's file holds
// its evidence path.
func (p *Plan) notCollectedClash(it *PlanItem, other string) {
	why := fmt.Sprintf("%s and %s would both be %s in the evidence folder (one host name is the other's once made storable on this workstation), and one file may not take the other's place", it.Source, other, it.Dest)
	it.Method, it.Note = MethodSkip, "NOT COLLECTED: "+why
	p.NotCollected = append(p.NotCollected, custody.Uncollected{What: "file", Name: it.VMName, VMID: it.VMID, Path: it.Source, Size: it.Size,
		Why: why + "; collect it into another case", Missed: true})
}

// LUNPrefix is where ESXi exposes disks and LUNs.
const LUNPrefix = "/vmfs/devices/disks/"

// addLUNs plans the LUN behind each RDM of vm. Its size is the mapping
// file's, which is the size of the LUN it maps. A LUN mapped by several
// disks is copied once; each mapping's note names its image.
func (p *Plan) addLUNs(vm *VM, taken map[string]string) {
	for _, d := range vm.Disks {
		maps := d.MappingFiles()
		if d.RDM == nil || d.RDM.Device == "" || len(maps) == 0 {
			// An RDM whose device is unknown: its mapping file's note
			// and NoteNotCollected say so.
			continue
		}
		size := int64(-1)
		for _, f := range vm.Files {
			if f.Path == maps[0] {
				size = f.Size
			}
		}
		it := PlanItem{VMID: vm.ID, VMName: vm.Name, Source: LUNPrefix + d.RDM.Device, Size: size, Kind: KindLUN,
			Method: MethodCopy, Dest: DeviceEvidencePath(d.RDM.Device), vm: vm}
		dest := it.Dest
		switch {
		case size < 0:
			it.Method, it.Note = MethodSkip, "size of the LUN unknown: its mapping file is not in the VM folder"
		case vm.Running() && (d.RDM.Passthrough || d.Independent):
			it.Live = true
			it.Note = "WARNING: physical RDM of a running VM: copied live, a snapshot does not freeze it"
		case vm.Running():
			it.Method = MethodSnapshot
		}
		if other, ok := taken[dest]; ok && other == it.Source {
			// Mapped again (a virtual and a physical mapping of one LUN):
			// the first plan item copies it.
			p.noteMapping(d, dest)
			continue
		}
		p.add(it, taken)
		if it.Method != MethodSkip {
			p.noteMapping(d, dest)
		}
	}
}

// noteMapping says on d's mapping file, and on the descriptor naming it,
// where the LUN it maps is imaged.
func (p *Plan) noteMapping(d Disk, dest string) {
	for i := range p.Items {
		it := &p.Items[i]
		switch {
		case it.Kind == KindRDM && slices.Contains(d.MappingFiles(), it.Source):
			it.Note = "raw device mapping: reading it reads the LUN " + d.RDM.Device + ", which is imaged once as " + dest
		case it.Source == d.Base().Descriptor && it.Method != MethodSkip:
			it.Image = dest
		}
	}
}

// mappedSize is the size of the LUN RDM disk d maps: its mapping file's
// (0 when the file is not listed).
func mappedSize(vm *VM, d Disk) int64 {
	maps := d.MappingFiles()
	for _, f := range vm.Files {
		if len(maps) > 0 && f.Path == maps[0] {
			return f.Size
		}
	}
	return 0
}

// diskRole is what a file is to the VM's disks.
type diskRole struct {
	disk  bool // descriptor or extent of a disk chain
	rdm   bool // the RDM mapping file
	indep bool // belongs to an independent disk
	pRDM  bool // physical-compatibility RDM
	// unresolved says why the device an RDM maps is unknown.
	unresolved string
}

func diskRoles(vm *VM) map[string]diskRole {
	roles := map[string]diskRole{}
	for _, d := range vm.Disks {
		r := diskRole{disk: true, indep: d.Independent, pRDM: d.RDM != nil && d.RDM.Passthrough}
		if d.RDM != nil && d.RDM.Device == "" {
			r.unresolved = cmp.Or(d.RDMUnresolved, "vmkfstools -q named no device")
		}
		// Every layer of the chain is the disk's: a delta over an RDM
		// is an ordinary delta (a physical RDM's stays physical: no
		// snapshot freezes what is under it), and only the base's
		// extents are mapping files.
		for _, l := range d.Layers() {
			roles[l.Descriptor] = r
			for _, e := range l.Extents {
				roles[e] = r
			}
		}
		for _, e := range d.MappingFiles() {
			er := r
			er.rdm = true
			roles[e] = er
		}
	}
	// Files of the snapshot chain that the .vmx does not name directly
	// (parents, older deltas) are disk files too.
	for _, f := range vm.Files {
		if _, ok := roles[f.Path]; !ok && strings.HasSuffix(f.Name, ".vmdk") {
			roles[f.Path] = diskRole{disk: true}
		}
	}
	return roles
}

// fileKind is the plan's kind of a file: an RDM mapping file by its
// role (its name looks like any disk's), anything else by its name.
func fileKind(name string, r diskRole) string {
	if r.rdm {
		return KindRDM
	}
	return esxi.FileKindOf(name)
}

// classify sets the method (and a note) of a planned file.
func classify(vm *VM, it *PlanItem, r diskRole, o PlanOptions) {
	running := vm.Running()
	switch {
	case it.Kind == KindLock:
		it.Method, it.Note = MethodSkip, "lock file, no content"
	case it.Kind == KindRDM && r.unresolved != "":
		it.Method, it.Note = MethodSkip, "NOT COLLECTED: raw device mapping whose device is unknown ("+r.unresolved+
			"): reading it would read the LUN, so it is not copied as data, and the LUN cannot be collected (--rdm) until the device is known"
	case it.Kind == KindRDM:
		it.Method, it.Note = MethodSkip, "raw device mapping: reading it reads the LUN; the LUN is collected with --rdm"
	case running && r.pRDM && r.disk:
		// The descriptor of a physical RDM: text the VM does not write,
		// describing a disk no snapshot freezes.
		it.Method, it.Live = MethodCopy, true
		it.Note = "descriptor of a physical RDM of a running VM: our snapshot does not freeze the disk it describes, so it is copied as it is (the data is the LUN, copied live with --rdm)"
		if it.Kind != KindDescriptor {
			it.Note = "file of a physical RDM's chain of a running VM: no snapshot freezes a physical RDM, so it is copied as it is, live"
		}
	case running && it.Kind == KindSwap:
		it.Method, it.Note = MethodSkip, "swap file held open by the running VM"
	case running && r.indep && o.Independent:
		it.Method, it.Live = MethodCopy, true
		it.Note = "WARNING: independent disk of a running VM: copied live (--independent), a snapshot does not freeze it"
	case running && r.indep:
		it.Method, it.Note = MethodSkip, "independent disk of a running VM: held open and not frozen by a snapshot; copy it live with --independent, or power the VM off"
	case running && r.disk:
		it.Method = MethodSnapshot
	case running:
		it.Method, it.Live = MethodCopy, true
	}
}

// SafeName makes name acceptable to the sink's name policy (no '/', '\',
// NUL or control characters, valid UTF-8, not "." or "..", at most 255
// bytes) and portable to the file systems a case is carried to: Windows
// refuses : * ? " < > |, names ending in a dot or a space, and device
// names such as CON or COM1 (an ESXi device is mpx.vmhba32:C0:T0:L0).
// It keeps the name readable: refused characters become '_'. The plan
// records each file's source path beside its name in the case.
func SafeName(name string) string {
	var b strings.Builder
	for i, r := range name {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(name[i:], "\uFFFD"):
			b.WriteByte('_')
		case r < 0x20 || r == 0x7f || strings.ContainsRune(`/\:*?"<>|`, r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
			// The sink refuses invisible and reordering characters too.
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	s := b.String()
	if s == "" || s == "." || s == ".." {
		s = "_" + s
	}
	if strings.HasSuffix(s, ".") || strings.HasSuffix(s, " ") {
		s += "_"
	}
	if base, _, _ := strings.Cut(s, "."); windowsDevice.MatchString(base) {
		s = "_" + s
	}
	for len(s) > 255 {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// windowsDevice matches the names Windows keeps for devices, with any
// extension.
var windowsDevice = regexp.MustCompile(`(?i)^(con|prn|aux|nul|com[0-9]|lpt[0-9])$`)

// NoteNotCollected lists in p what inv holds that p does not collect:
// VMs not chosen (registered and unregistered), the LUNs behind RDMs
// without --rdm, USB devices not named with --usb, independent disks of
// running VMs without --independent, and vmids discovery could not place.
func (p *Plan) NoteNotCollected(inv *Inventory, o PlanOptions) {
	chosen := map[*VM]bool{}
	for _, vm := range p.VMs {
		chosen[vm] = true
	}
	add := func(u custody.Uncollected) {
		u.Host = inv.Host.Addr
		p.NotCollected = append(p.NotCollected, u)
	}
	for i := range p.NotCollected {
		p.NotCollected[i].Host = cmp.Or(p.NotCollected[i].Host, inv.Host.Addr)
	}
	for _, u := range inv.Unplaced {
		add(custody.Uncollected{What: "unplaced VM", Name: u.Name, VMID: u.ID, Path: u.VMX, Why: u.Reason, Missed: o.All})
	}
	for _, vm := range inv.VMs {
		if chosen[vm] {
			continue
		}
		var size int64
		for _, f := range vm.Files {
			size += f.Size
		}
		if vm.Registered {
			add(custody.Uncollected{What: "VM", Name: vm.Name, VMID: vm.ID, Path: vm.VMX, Size: size, Flag: fmt.Sprintf("--vm %d", vm.ID), Why: "not chosen"})
		} else {
			add(custody.Uncollected{What: "unregistered VM", Name: vm.Name, Path: vm.VMX, Size: size, Flag: "--unregistered", Why: "not registered with the host: found by its .vmx on a datastore"})
		}
	}
	copied := map[string]bool{}
	for _, it := range p.Items {
		if it.Method != MethodSkip {
			copied[it.Source] = true
		}
	}
	for _, vm := range p.VMs {
		for _, d := range vm.Disks {
			if d.RDM != nil && d.RDM.Device == "" {
				// Asked for with --rdm, it is missed: the case is
				// incomplete.
				add(custody.Uncollected{What: "RDM LUN", Name: vm.Name, VMID: vm.ID, Path: d.Descriptor, Size: mappedSize(vm, d), Missed: o.RDM,
					Why: fmt.Sprintf("the device behind raw device mapping %s (%s) is unknown: %s; neither its mapping file (reading it reads the LUN) nor the LUN is copied; once the device is known (esxcli storage core device list, the VM's settings), --usb DEVICE copies it whole",
						d.Descriptor, d.Node, cmp.Or(d.RDMUnresolved, "vmkfstools -q named no device"))})
				continue
			}
			if d.RDM != nil && d.RDM.Device != "" && !copied[LUNPrefix+d.RDM.Device] {
				add(custody.Uncollected{What: "RDM LUN", Name: vm.Name, VMID: vm.ID, Path: LUNPrefix + d.RDM.Device, Size: mappedSize(vm, d), Flag: "--rdm",
					Why: fmt.Sprintf("the LUN behind raw device mapping %s (%s)", d.Descriptor, d.Node)})
			}
			if d.Independent && vm.Running() && !copied[d.Descriptor] && d.RDM == nil {
				add(custody.Uncollected{What: "independent disk", Name: vm.Name, VMID: vm.ID, Path: d.Descriptor, Flag: "--independent",
					Why: "independent disk of a running VM: not frozen by a snapshot"})
			}
		}
	}
	for _, dev := range inv.Devices {
		if dev.IsUSB == nil || !*dev.IsUSB {
			continue
		}
		src := dev.DevfsPath
		if src == "" {
			src = LUNPrefix + dev.Device
		}
		if !copied[src] {
			add(custody.Uncollected{What: "USB device", Name: dev.DisplayName, Path: src, Size: dev.SizeMB << 20, Flag: "--usb " + esxi.Quote(dev.Device),
				Why: "a storage device plugged into the host"})
		}
	}
}
