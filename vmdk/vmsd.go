package vmdk

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
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
// error messages.
func ParseVMSD(name string, b []byte) (*VMSD, error) {
	if len(b) > maxVMSDSize {
		return nil, fmt.Errorf("vmdk: %s is %d bytes, too large for a snapshot database", name, len(b))
	}
	v := &VMSD{}
	snaps := map[int]*Snapshot{}
	disks := map[[2]int]*SnapshotDisk{}
	type timeParts struct{ hi, lo int64 }
	times := map[int]*timeParts{}
	snap := func(n int) *Snapshot {
		if s, ok := snaps[n]; ok {
			return s
		}
		s := &Snapshot{Slot: n}
		snaps[n] = s
		return s
	}
	for i, raw := range strings.Split(string(b), "\n") {
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("vmdk: %s line %d: %q is not key = \"value\"", name, i+1, clip(line))
		}
		key = strings.ToLower(strings.TrimSpace(key))
		val, err := unquote(strings.TrimSpace(val))
		if err != nil {
			return nil, fmt.Errorf("vmdk: %s line %d: %v", name, i+1, err)
		}
		bad := func(what string) error {
			return fmt.Errorf("vmdk: %s line %d: %s %q is not %s", name, i+1, key, clip(val), what)
		}
		atoi := func() (int, error) {
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return 0, bad("a number")
			}
			return n, nil
		}
		switch key {
		case "snapshot.lastuid", "snapshot.current", "snapshot.numsnapshots":
			n, err := atoi()
			if err != nil {
				return nil, err
			}
			switch key {
			case "snapshot.lastuid":
				v.LastUID = n
			case "snapshot.current":
				v.CurrentUID = n
			default:
				v.NumSnapshots = n
			}
			continue
		case "snapshot.needconsolidate":
			v.NeedConsolidate = strings.EqualFold(val, "true")
			continue
		}
		rest, ok := strings.CutPrefix(key, "snapshot")
		if !ok {
			continue // .encoding, snapshot.mru*, and keys we do not need
		}
		num, field, ok := strings.Cut(rest, ".")
		slot, err := strconv.Atoi(num)
		if !ok || err != nil || slot < 0 || slot > 1<<16 {
			continue
		}
		s := snap(slot)
		if d, sub, isDisk := strings.Cut(field, "."); isDisk && strings.HasPrefix(d, "disk") {
			m, err := strconv.Atoi(strings.TrimPrefix(d, "disk"))
			if err != nil || m < 0 || m > 1<<16 {
				continue
			}
			dk := disks[[2]int{slot, m}]
			if dk == nil {
				dk = &SnapshotDisk{}
				disks[[2]int{slot, m}] = dk
			}
			switch sub {
			case "filename":
				dk.FileName = val
			case "node":
				dk.Node = val
			}
			continue
		}
		switch field {
		case "uid":
			if s.UID, err = atoi(); err != nil {
				return nil, err
			}
		case "parent":
			if s.ParentUID, err = atoi(); err != nil {
				return nil, err
			}
		case "displayname":
			s.DisplayName = val
		case "description":
			s.Description = val
		case "filename":
			s.FileName = val
		case "type":
			s.Type = val
		case "createtimehigh", "createtimelow":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return nil, bad("a number")
			}
			tp := times[slot]
			if tp == nil {
				tp = &timeParts{}
				times[slot] = tp
			}
			if field == "createtimehigh" {
				tp.hi = n
			} else {
				tp.lo = n
			}
		}
	}
	for slot, tp := range times {
		// Microseconds since 1970 in two 32-bit halves; the low half is
		// printed signed.
		us := tp.hi<<32 + int64(uint32(tp.lo))
		snaps[slot].CreateTime = time.UnixMicro(us).UTC()
	}
	for k, dk := range disks {
		s := snap(k[0])
		s.Disks = append(s.Disks, *dk)
	}
	for _, s := range snaps {
		if s.UID == 0 {
			return nil, fmt.Errorf("vmdk: %s: snapshot%d has no uid line", name, s.Slot)
		}
		sort.Slice(s.Disks, func(i, j int) bool { return s.Disks[i].Node < s.Disks[j].Node })
		v.Snapshots = append(v.Snapshots, *s)
	}
	sort.Slice(v.Snapshots, func(i, j int) bool { return v.Snapshots[i].Slot < v.Snapshots[j].Slot })
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
// is none, an error when there are several.
func FindVMSD(diskPath string) (string, error) {
	m, _ := filepath.Glob(filepath.Join(filepath.Dir(diskPath), "*.vmsd"))
	switch len(m) {
	case 0:
		return "", nil
	case 1:
		return m[0], nil
	}
	return "", fmt.Errorf("vmdk: %d .vmsd files next to %s (%s): name the right one with --vmsd", len(m), diskPath, strings.Join(m, ", "))
}
