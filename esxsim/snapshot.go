package esxsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// snapshot is one node of a VM's snapshot tree.
type snapshot struct {
	uid         int
	name, desc  string
	created     time.Time
	parent      *snapshot
	memory      bool
	quiesced    bool
	state       string // powered on, powered off, suspended
	num         int    // the N of <vm>-SnapshotN.vmsn
	files       map[*vdisk]*deltaLayer
	hasFileBase map[*vdisk]bool // the disk's file at this snapshot is the base
}

func (s *snapshot) vmsn(v *vm) string { return fmt.Sprintf("%s-Snapshot%d.vmsn", v.base, s.num) }
func (s *snapshot) vmem(v *vm) string { return fmt.Sprintf("%s-Snapshot%d.vmem", v.base, s.num) }

// fileOf is the descriptor of disk d at this snapshot.
func (s *snapshot) fileOf(d *vdisk) string {
	if l := s.files[d]; l != nil {
		return l.desc
	}
	return d.baseRef(false)
}

func (v *vm) children(p *snapshot) []*snapshot {
	var out []*snapshot
	for _, s := range v.snaps {
		if s.parent == p {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].uid < out[j].uid })
	return out
}

// errSnapshotFailed is vim-cmd's failure to create a snapshot.
var errSnapshotFailed = errors.New("snapshot failed")

// createSnapshot takes a snapshot as ESXi does: every snapshottable
// disk's current extent becomes read-only and a new delta (seSparse on
// VMFS-6, vmfsSparse on VMFS-5) takes the VM's writes; the .vmsn (and
// .vmem with memory), .vmsd and .vmx change.
func (h *Host) createSnapshot(v *vm, name, desc string, memory, quiesce bool, when time.Time) (*snapshot, error) {
	state := map[string]string{"on": "powered on", "off": "powered off", "suspended": "suspended"}[v.power]
	v.lastUID++
	s := &snapshot{uid: v.lastUID, name: name, desc: desc, created: when, parent: v.current,
		memory: memory && v.power == "on", quiesced: quiesce, state: state, num: v.nextSn,
		files: map[*vdisk]*deltaLayer{}}
	v.nextSn++
	for _, d := range v.disks {
		if !d.snapshottable() {
			continue
		}
		if err := h.pendingWrites(v, d); err != nil {
			return nil, err
		}
		if err := d.finishTop(); err != nil {
			return nil, err
		}
		h.frozen[h.canonPath(d.topPath())] = d.freeze()
		s.files[d] = d.top
		l, err := h.newLayer(d, d.top)
		if err != nil {
			return nil, err
		}
		d.top = l
		if v.power == "on" {
			if err := h.guestActivity(l, stableHash("guest", v.dir, fmt.Sprint(s.uid), d.desc)); err != nil {
				return nil, err
			}
		} else if err := l.finish(); err != nil {
			return nil, err
		}
	}
	v.snaps = append(v.snaps, s)
	v.current = s
	h.put(v.path(s.vmsn(v)), fileMode, when, vmsnBytes(v, s))
	if s.memory {
		h.fs.put(v.path(s.vmem(v)), &node{mode: fileMode, mtime: when,
			data: newGen(int64(v.spec.MemoryMB)<<20, stableHash("vmem", v.dir, fmt.Sprint(s.uid)), 600, nil)})
	}
	h.updateLocks(v)
	v.writeConfig()
	h.foot.hostdLog("Task Created : haTask-%d-vim.VirtualMachine.createSnapshot-%d", v.id, s.uid)
	return s, nil
}

// pendingWrites lands the guest's writes still in flight in a running
// VM's current delta before the snapshot freezes it: on a real host that
// delta goes on growing between an inventory and a snapshot, so it is
// bigger once frozen than when it was listed.
func (h *Host) pendingWrites(v *vm, d *vdisk) error {
	if v.power != "on" || d.top == nil || !d.top.open() {
		return nil
	}
	return h.guestActivity(d.top, stableHash("pending", v.dir, fmt.Sprint(v.lastUID), d.desc))
}

// finishTop closes the disk's open delta (it becomes read-only).
func (d *vdisk) finishTop() error {
	if d.top == nil {
		return nil
	}
	return d.top.finish()
}

// revertTo makes the VM run from snapshot s (build time only): a new
// delta over each disk's file at s; the abandoned running delta is
// deleted unless a snapshot holds it.
func (h *Host) revertTo(v *vm, s *snapshot) error {
	for _, d := range v.disks {
		if !d.snapshottable() {
			continue
		}
		old := d.top
		if err := d.finishTop(); err != nil {
			return err
		}
		l, err := h.newLayer(d, s.files[d])
		if err != nil {
			return err
		}
		d.top = l
		if old != nil && !v.holds(old) {
			h.dropLayer(old)
		}
		if v.power != "on" {
			if err := l.finish(); err != nil {
				return err
			}
		}
	}
	v.current = s
	return nil
}

func (v *vm) holds(l *deltaLayer) bool {
	for _, s := range v.snaps {
		for _, f := range s.files {
			if f == l {
				return true
			}
		}
	}
	return false
}

// removeSnapshot deletes snapshot s and consolidates: for each disk, the
// single delta made when s was taken is merged into s's file (the base
// or an older delta) and deleted; the VM then runs on the merged file if
// that delta was its running one. A file with several child deltas (a
// branched tree) is kept as it is.
func (h *Host) removeSnapshot(v *vm, s *snapshot) error {
	for _, d := range v.disks {
		if !d.snapshottable() {
			continue
		}
		target := s.files[d]
		var kids []*deltaLayer
		for _, l := range d.layers {
			if l.parent == target {
				kids = append(kids, l)
			}
		}
		if len(kids) != 1 {
			continue
		}
		c := kids[0]
		if err := h.mergeInto(d, c, target); err != nil {
			return fmt.Errorf("consolidate %s into %s: %w", c.desc, d.nameOf(target), err)
		}
	}
	for _, o := range v.snaps {
		if o.parent == s {
			o.parent = s.parent
		}
	}
	v.snaps = removeSnap(v.snaps, s)
	if v.current == s {
		v.current = s.parent
	}
	h.fs.unlink(v.path(s.vmsn(v)))
	h.fs.unlink(v.path(s.vmem(v)))
	h.updateLocks(v)
	v.writeConfig()
	h.foot.hostdLog("Task Created : haTask-%d-vim.vm.Snapshot.remove-%d", v.id, s.uid)
	return nil
}

func (d *vdisk) nameOf(l *deltaLayer) string {
	if l == nil {
		return d.desc
	}
	return l.desc
}

func removeSnap(ss []*snapshot, s *snapshot) []*snapshot {
	out := ss[:0]
	for _, o := range ss {
		if o != s {
			out = append(out, o)
		}
	}
	return out
}

// mergeInto consolidates delta c into target (nil: the base disk).
func (h *Host) mergeInto(d *vdisk, c, target *deltaLayer) error {
	wasTop := d.top == c
	c.mu.RLock()
	blocks := make(map[int64][]byte, len(c.blocks))
	for k, b := range c.blocks {
		blocks[k] = b
	}
	c.mu.RUnlock()
	if target == nil {
		for k, b := range blocks {
			if _, err := d.baseW.WriteAt(b, k*ovBlock); err != nil {
				return err
			}
		}
	} else {
		if err := target.finish(); err != nil {
			return err
		}
		target.mu.Lock()
		if target.blocks == nil {
			target.blocks = map[int64][]byte{}
		}
		for k, b := range blocks {
			target.blocks[k] = b
		}
		target.mu.Unlock()
		if err := target.start(); err != nil {
			return err
		}
	}
	for _, l := range d.layers {
		if l.parent == c {
			l.parent = target
		}
	}
	v := d.vm
	for _, s := range v.snaps {
		if s.files[d] == c {
			s.files[d] = target
		}
	}
	h.dropLayer(c)
	if wasTop {
		d.top = target
	}
	if target != nil && (!wasTop || v.power != "on") {
		if err := target.finish(); err != nil {
			return err
		}
	}
	for _, l := range d.layers {
		if l.parent == target {
			l.parentCID = parentCIDOf(d, target)
			l.refreshDesc()
		}
	}
	return nil
}

// vmsdText renders the snapshot database; empty when the VM never had a
// snapshot.
func (v *vm) vmsdText() string {
	if v.lastUID == 0 {
		return ""
	}
	var b strings.Builder
	kv := func(k, val string) { fmt.Fprintf(&b, "%s = \"%s\"\n", k, vmxEscape(val)) }
	kv(".encoding", "UTF-8")
	kv("snapshot.lastUID", fmt.Sprint(v.lastUID))
	if len(v.snaps) == 0 {
		kv("snapshot.needConsolidate", "FALSE")
		return b.String()
	}
	if v.current != nil {
		kv("snapshot.current", fmt.Sprint(v.current.uid))
	}
	for i, s := range v.snaps {
		p := fmt.Sprintf("snapshot%d.", i)
		kv(p+"uid", fmt.Sprint(s.uid))
		if s.parent != nil {
			kv(p+"parent", fmt.Sprint(s.parent.uid))
		}
		kv(p+"filename", s.vmsn(v))
		kv(p+"displayName", s.name)
		if s.desc != "" {
			kv(p+"description", s.desc)
		}
		if s.memory {
			kv(p+"type", "1")
		}
		us := s.created.UnixMicro()
		kv(p+"createTimeHigh", fmt.Sprint(us>>32))
		kv(p+"createTimeLow", fmt.Sprint(int32(uint32(us))))
		n := 0
		for _, d := range v.disks {
			if d.snapshottable() {
				kv(fmt.Sprintf("%sdisk%d.fileName", p, n), s.fileOf(d))
				kv(fmt.Sprintf("%sdisk%d.node", p, n), d.node)
				n++
			}
		}
		kv(p+"numDisks", fmt.Sprint(n))
	}
	kv("snapshot.numSnapshots", fmt.Sprint(len(v.snaps)))
	return b.String()
}

// treeText renders vim-cmd's snapshot tree (after "Get Snapshot:").
func (v *vm) treeText() string {
	var b strings.Builder
	var walk func(p *snapshot, depth int)
	walk = func(p *snapshot, depth int) {
		for _, s := range v.children(p) {
			pre := strings.Repeat("--", depth)
			if depth == 0 {
				b.WriteString("|-ROOT\n")
			} else {
				fmt.Fprintf(&b, "%s|-CHILD\n", strings.Repeat("--", depth))
			}
			fp := pre + "--"
			fmt.Fprintf(&b, "%sSnapshot Name        : %s\n", fp, s.name)
			fmt.Fprintf(&b, "%sSnapshot Id        : %d\n", fp, s.uid)
			fmt.Fprintf(&b, "%sSnapshot Desciption  : %s\n", fp, s.desc)
			fmt.Fprintf(&b, "%sSnapshot Created On  : %s\n", fp, vimDate(s.created))
			fmt.Fprintf(&b, "%sSnapshot State       : %s\n", fp, s.state)
			walk(s, depth+1)
		}
	}
	walk(nil, 0)
	return b.String()
}

// vimDate formats a time as vim-cmd does: M/D/YYYY H:MM:SS.
func vimDate(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%d/%d/%d %d:%02d:%02d", t.Month(), t.Day(), t.Year(), t.Hour(), t.Minute(), t.Second())
}

// vmsnBytes is a snapshot state file: a header and the configuration at
// the time of the snapshot.
func vmsnBytes(v *vm, s *snapshot) []byte {
	cfg := []byte(v.vmxText())
	b := make([]byte, 16, 16+len(cfg)+4096)
	binary.LittleEndian.PutUint32(b, 0xbed2bed2)
	binary.LittleEndian.PutUint32(b[4:], 8)
	binary.LittleEndian.PutUint32(b[8:], uint32(s.uid))
	binary.LittleEndian.PutUint32(b[12:], uint32(len(cfg)))
	b = append(b, cfg...)
	return append(b, make([]byte, 4096-len(b)%4096)...)
}

// buildSnapshots recreates the scenario's snapshot tree: each snapshot is
// taken in turn (reverting first when its parent is not the current
// one), with guest writes in between, so the files and the .vmsd are what
// ESXi would have left.
func (h *Host) buildSnapshots(v *vm) error {
	if len(v.spec.Snapshots) > 1 {
		return errors.New("a VM has at most one root snapshot")
	}
	var all []*SnapshotSpec
	var walk func(ss []SnapshotSpec)
	walk = func(ss []SnapshotSpec) {
		for i := range ss {
			all = append(all, &ss[i])
			walk(ss[i].Children)
		}
	}
	walk(v.spec.Snapshots)
	byName := map[string]*snapshot{}
	power := v.power
	v.power = "on" // deltas are written as a running VM would
	var visit func(ss []SnapshotSpec, parent *snapshot) error
	n := 0
	visit = func(ss []SnapshotSpec, parent *snapshot) error {
		for i := range ss {
			spec := &ss[i]
			if v.current != parent {
				if err := h.revertTo(v, parent); err != nil {
					return err
				}
			}
			when := spec.Created
			if when.IsZero() {
				when = h.sc.Start.Add(-time.Duration(len(all)-n) * 26 * time.Hour)
			}
			n++
			s, err := h.createSnapshot(v, spec.Name, spec.Description, spec.Memory, spec.Quiesced, when)
			if err != nil {
				return err
			}
			if spec.State != "" {
				s.state = spec.State
			} else if power != "on" {
				s.state = "powered off"
				s.memory = false
				h.fs.unlink(v.path(s.vmem(v)))
			}
			byName[spec.Name] = s
			if err := visit(spec.Children, s); err != nil {
				return err
			}
		}
		return nil
	}
	err := visit(v.spec.Snapshots, nil)
	if err == nil && v.spec.Current != "" && byName[v.spec.Current] != v.current {
		err = h.revertTo(v, byName[v.spec.Current])
	}
	v.power = power
	if err != nil {
		return err
	}
	if power != "on" {
		for _, d := range v.disks {
			if err := d.finishTop(); err != nil {
				return err
			}
		}
	}
	return nil
}

// setPower powers a VM on or off: a powered-off VM's deltas are finished
// and readable; powering on reopens the running delta.
func (h *Host) setPower(v *vm, on bool) error {
	if on == (v.power == "on") {
		return nil
	}
	if on {
		v.power = "on"
		for _, d := range v.disks {
			if d.top != nil {
				if err := d.top.start(); err != nil {
					return err
				}
			}
		}
	} else {
		v.power = "off"
		for _, d := range v.disks {
			if err := d.finishTop(); err != nil {
				return err
			}
		}
	}
	h.applyPower(v)
	v.writeConfig()
	return nil
}
