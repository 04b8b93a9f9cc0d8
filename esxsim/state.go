package esxsim

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"time"
)

// State is a snapshot of what the host holds: what a test checks to
// prove an acquisition left nothing behind.
type State struct {
	Mounts []MountState `json:"mounts"`
	VMs    []VMState    `json:"vms"`
	Locks  []string     `json:"locks"` // files opening fails on (EBUSY)
	// Tmp lists the names in /tmp: a run's lease, stop file and FIFOs
	// live there while it works.
	Tmp         []string `json:"tmp"`
	Sessions    int      `json:"sessions"`
	MaxSessions int      `json:"max_sessions"`
}

// MountState is an NFS datastore and its traffic.
type MountState struct {
	Label, Host, Share, UUID string
	ReadOnly, Accessible     bool
	OpenFiles                int64
	BytesWritten, Writes     int64
	Heartbeats               int64
	HeartbeatFailures        int64
	// MaxInFlight is the most RPCs outstanding at once on the mount's
	// connection.
	MaxInFlight int64
	Calls       int64
}

// VMState is a VM's power state, disks and snapshot tree.
type VMState struct {
	ID         int
	Name       string
	Power      string
	VMX        string // absolute path
	Registered bool
	Current    int // snapshot the VM runs from (0: none)
	Snapshots  []SnapshotState
	Disks      []DiskState
}

// SnapshotState is one snapshot.
type SnapshotState struct {
	ID, Parent        int
	Name, Description string
	Created           time.Time
	Memory, Quiesced  bool
	// PowerState is the VM's power state when the snapshot was taken
	// (powered on, powered off, suspended).
	PowerState string
	// Files are the snapshot's .vmsn (and .vmem).
	Files []string
}

// DiskState is a disk and the chain it runs on.
type DiskState struct {
	Node string
	// Chain lists descriptors from the one the VM runs on to the base.
	Chain []string
	// Deltas lists every delta descriptor of the disk, on disk.
	Deltas []string
}

// State reports the host's mounts, VMs, snapshots and locks.
func (h *Host) State() State {
	var st State
	for _, m := range h.mountList() {
		calls, maxf := m.c.Stats()
		m.mu.Lock()
		maxf = maxI(maxf, m.maxFlight)
		m.mu.Unlock()
		st.Mounts = append(st.Mounts, MountState{Label: m.label, Host: m.host, Share: m.share, UUID: m.uuid,
			ReadOnly: m.readOnly, Accessible: m.accessible(), OpenFiles: m.open.Load(), BytesWritten: m.written.Load(),
			Writes: m.writes.Load(), Heartbeats: m.heartbeats.Load(), HeartbeatFailures: m.hbFailed.Load(),
			MaxInFlight: maxf, Calls: calls})
	}
	h.mu.Lock()
	for _, v := range h.vms {
		vs := VMState{ID: v.id, Name: v.spec.Name, Power: v.power, VMX: v.vmxAbs(), Registered: v.id != 0}
		if v.current != nil {
			vs.Current = v.current.uid
		}
		for _, s := range v.snaps {
			ss := SnapshotState{ID: s.uid, Name: s.name, Description: s.desc, Created: s.created, Memory: s.memory,
				Quiesced: s.quiesced, PowerState: s.state, Files: []string{v.path(s.vmsn(v))}}
			if s.parent != nil {
				ss.Parent = s.parent.uid
			}
			if s.memory {
				ss.Files = append(ss.Files, v.path(s.vmem(v)))
			}
			vs.Snapshots = append(vs.Snapshots, ss)
		}
		for _, d := range v.disks {
			ds := DiskState{Node: d.node}
			for l := d.top; l != nil; l = l.parent {
				ds.Chain = append(ds.Chain, v.path(l.desc))
			}
			ds.Chain = append(ds.Chain, d.path(d.desc))
			for _, l := range d.layers {
				ds.Deltas = append(ds.Deltas, v.path(l.desc))
			}
			vs.Disks = append(vs.Disks, ds)
		}
		st.VMs = append(st.VMs, vs)
	}
	h.mu.Unlock()
	h.fs.mu.RLock()
	var walk func(n *node)
	walk = func(n *node) {
		if n.busy {
			st.Locks = append(st.Locks, n.path())
		}
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(h.fs.root)
	if tmp := h.fs.root.kids["tmp"]; tmp != nil {
		for name := range tmp.kids {
			st.Tmp = append(st.Tmp, name)
		}
	}
	h.fs.mu.RUnlock()
	sort.Strings(st.Locks)
	sort.Strings(st.Tmp)
	st.Sessions = int(h.open.Load())
	st.MaxSessions = int(h.maxOpen.Load())
	return st
}

// DiskImage returns the disk whose descriptor is the host path desc as
// the last snapshot that froze desc left it (what a copy made under that
// snapshot holds, whatever consolidation did to the files since), or as
// it reads now when no snapshot froze it; and the disk's size.
func (h *Host) DiskImage(desc string) (io.ReaderAt, int64, error) {
	canon := h.canonPath(absPath("/", desc))
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range h.vms {
		for _, d := range v.disks {
			var top *deltaLayer
			found := h.canonPath(d.path(d.desc)) == canon
			for _, l := range d.layers {
				if !found && h.canonPath(v.path(l.desc)) == canon {
					top, found = l, true
				}
			}
			if !found {
				continue
			}
			if f, ok := h.frozen[canon]; ok {
				return f, d.size, nil
			}
			return d.chainReader(top), d.size, nil
		}
	}
	return nil, 0, fmt.Errorf("esxsim: no disk descriptor %s", desc)
}

// ReadDir lists a directory of the host, sorted by name, as ls sees it.
func (h *Host) ReadDir(p string) ([]fs.FileInfo, error) {
	l, err := h.readDir(absPath("/", p))
	if err != nil {
		return nil, err
	}
	out := make([]fs.FileInfo, len(l))
	for i, fi := range l {
		out[i] = fi
	}
	return out, nil
}

// ReadFile reads a file of the host (locks apply).
func (h *Host) ReadFile(p string) ([]byte, error) {
	f, err := h.openFile(absPath("/", p), os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// CopyFile copies a host file (a delta, a flat extent) to a local path,
// as an examiner's copy would read it (locks apply).
func (h *Host) CopyFile(p, dst string) error {
	f, err := h.openFile(absPath("/", p), os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, f); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", p, err)
	}
	return out.Close()
}

func (h *Host) vmByName(name string) *vm {
	for _, v := range h.vms {
		if v.spec.Name == name || (v.id != 0 && fmt.Sprint(v.id) == name) {
			return v
		}
	}
	return nil
}

// SetPower powers a VM (by name or vmid) on or off, as the VM's owner
// would between two exercises.
func (h *Host) SetPower(vmName string, on bool) error {
	h.opMu.Lock()
	defer h.opMu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	v := h.vmByName(vmName)
	if v == nil {
		return fmt.Errorf("esxsim: %w: %s", errNoSuchVM, vmName)
	}
	return h.setPower(v, on)
}

// GuestWrite makes a running VM write data at off (4 KiB aligned) of its
// disk number disk: into the running delta, or the base disk when the VM
// has no snapshot.
func (h *Host) GuestWrite(vmName string, disk int, off int64, data []byte) error {
	h.opMu.Lock()
	defer h.opMu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	v := h.vmByName(vmName)
	if v == nil || disk < 0 || disk >= len(v.disks) {
		return fmt.Errorf("esxsim: %w: %s disk %d", errNoSuchVM, vmName, disk)
	}
	d := v.disks[disk]
	if v.power != "on" {
		return fmt.Errorf("esxsim: VM %s is not running", vmName)
	}
	if d.top != nil && d.snapshottable() {
		return d.top.write(data, off)
	}
	_, err := d.baseW.WriteAt(data, off)
	return err
}
