package vmdk

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/esxsink/esxsink/esxi"
)

// maxVMSDSize bounds a .vmsd; real ones are a few KiB.
const maxVMSDSize = 4 << 20

// VMSD is a parsed snapshot database (<vm>.vmsd).
type VMSD struct {
	Path            string     `json:"path,omitempty"`
	LastUID         int        `json:"last_uid"`
	CurrentUID      int        `json:"current_uid"` // the snapshot the running VM descends from
	NumSnapshots    int        `json:"num_snapshots"`
	NeedConsolidate bool       `json:"need_consolidate"`
	Snapshots       []Snapshot `json:"snapshots"` // in slot order
}

// Snapshot is one snapshotN.* group.
type Snapshot struct {
	Slot        int            `json:"slot"` // the N of snapshotN; not the UID
	UID         int            `json:"uid"`
	ParentUID   int            `json:"parent_uid,omitempty"` // 0 for a root snapshot
	DisplayName string         `json:"display_name"`
	Description string         `json:"description,omitempty"`
	FileName    string         `json:"file_name,omitempty"` // the .vmsn state file
	Type        string         `json:"type,omitempty"`
	CreateTime  time.Time      `json:"create_time,omitzero"`
	Disks       []SnapshotDisk `json:"disks"`
}

// SnapshotDisk is one snapshotN.diskM group: the descriptor that became
// read-only when the snapshot was taken, i.e. the disk's state at it.
type SnapshotDisk struct {
	Node     string `json:"node"` // scsi0:0, nvme0:1 ...
	FileName string `json:"file_name"`
}

// ReadVMSD reads and parses a .vmsd file. An empty file (no snapshots) is
// valid.
func ReadVMSD(path string) (*VMSD, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("vmdk: %w", err)
	}
	if st.Size() > maxVMSDSize {
		return nil, fmt.Errorf("vmdk: %s is %d bytes, too large for a snapshot database", path, st.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vmdk: %w", err)
	}
	v, err := ParseVMSD(path, b)
	if err != nil {
		return nil, err
	}
	v.Path = path
	return v, nil
}

// ParseVMSD parses .vmsd text (key = "value" lines). name is used in
// error messages. The text format is esxi's (esxi.ParseVMSD, which also
// serves discovery on the host); this keeps vmdk's view of it, and refuses
// what a snapshot chain cannot be built from: a snapshot without a uid, or
// a negative uid or count.
func ParseVMSD(name string, b []byte) (*VMSD, error) {
	if len(b) > maxVMSDSize {
		return nil, fmt.Errorf("vmdk: %s is %d bytes, too large for a snapshot database", name, len(b))
	}
	e, err := esxi.ParseVMSD(b)
	if err != nil {
		return nil, fmt.Errorf("vmdk: %s: %w", name, err)
	}
	for _, f := range []struct {
		key string
		n   int
	}{{"snapshot.lastUID", e.LastUID}, {"snapshot.current", e.CurrentUID}, {"snapshot.numSnapshots", e.NumSnapshots}} {
		if f.n < 0 {
			return nil, fmt.Errorf("vmdk: %s: %s is %d, not a number of 0 or more", name, f.key, f.n)
		}
	}
	v := &VMSD{LastUID: e.LastUID, CurrentUID: e.CurrentUID, NumSnapshots: e.NumSnapshots, NeedConsolidate: e.NeedConsolidate}
	for _, es := range e.Snapshots {
		if es.UID == 0 {
			return nil, fmt.Errorf("vmdk: %s: snapshot%d has no uid line", name, es.Slot)
		}
		if es.UID < 0 || es.ParentUID < 0 {
			return nil, fmt.Errorf("vmdk: %s: snapshot%d has uid %d and parent %d, not numbers of 0 or more", name, es.Slot, es.UID, es.ParentUID)
		}
		s := Snapshot{
			Slot: es.Slot, UID: es.UID, ParentUID: es.ParentUID, DisplayName: es.DisplayName,
			Description: es.Description, FileName: es.FileName, Type: es.Type, CreateTime: es.CreateTime,
		}
		for _, d := range es.Disks {
			s.Disks = append(s.Disks, SnapshotDisk{Node: d.Node, FileName: d.FileName})
		}
		sort.Slice(s.Disks, func(i, j int) bool { return s.Disks[i].Node < s.Disks[j].Node })
		v.Snapshots = append(v.Snapshots, s)
	}
	return v, nil
}

// Find returns the snapshot whose display name is name, or whose UID is
// name when no display name matches. Two snapshots with the name are an
// error listing their UIDs.
func (v *VMSD) Find(name string) (*Snapshot, error) {
	var hits []*Snapshot
	for i := range v.Snapshots {
		if v.Snapshots[i].DisplayName == name {
			hits = append(hits, &v.Snapshots[i])
		}
	}
	if len(hits) == 0 {
		if uid, err := strconv.Atoi(name); err == nil {
			for i := range v.Snapshots {
				if v.Snapshots[i].UID == uid {
					return &v.Snapshots[i], nil
				}
			}
		}
		var names []string
		for _, s := range v.Snapshots {
			names = append(names, fmt.Sprintf("%q (uid %d)", s.DisplayName, s.UID))
		}
		return nil, fmt.Errorf("vmdk: %s: no snapshot named %q; snapshots: %s", v.Path, name, strings.Join(names, ", "))
	}
	if len(hits) > 1 {
		var uids []string
		for _, s := range hits {
			uids = append(uids, strconv.Itoa(s.UID))
		}
		return nil, fmt.Errorf("vmdk: %s: %d snapshots are named %q (uids %s): give the uid instead", v.Path, len(hits), name, strings.Join(uids, ", "))
	}
	return hits[0], nil
}

// FindVMSD returns the .vmsd next to the disk at diskPath: "" when there
// is none, an error when there are several. The folder is listed, not
// globbed: a VM folder may be named "Mail [legacy]" or hold '*' and '?',
// which a glob pattern would read as wildcards.
func FindVMSD(diskPath string) (string, error) {
	dir := filepath.Dir(diskPath)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("vmdk: look for the .vmsd next to %s: %w", diskPath, err)
	}
	var m []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".vmsd") && e.Type().IsRegular() {
			m = append(m, filepath.Join(dir, e.Name()))
		}
	}
	switch len(m) {
	case 0:
		return "", nil
	case 1:
		return m[0], nil
	}
	return "", fmt.Errorf("vmdk: %d .vmsd files next to %s (%s): name the right one with --vmsd", len(m), diskPath, strings.Join(m, ", "))
}
