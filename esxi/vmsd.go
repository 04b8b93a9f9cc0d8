package esxi

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// VMSD is a parsed snapshot database (VM.vmsd).
type VMSD struct {
	Encoding        string
	LastUID         int
	CurrentUID      int // snapshot.current: the snapshot the running state descends from; 0 for none
	NumSnapshots    int // snapshot.numSnapshots as written
	NeedConsolidate bool
	Snapshots       []VMSDSnapshot // in slot order (the N of snapshotN)
	// Warnings lists inconsistencies (numSnapshots disagreeing with the
	// snapshots present, a current or parent uid that names no snapshot):
	// a damaged database is evidence too, so they are reported, not fatal.
	Warnings []string
}

// VMSDSnapshot is one snapshotN group.
type VMSDSnapshot struct {
	Slot        int // N of snapshotN; not the uid
	UID         int
	ParentUID   int    // 0 for a root snapshot
	FileName    string // the .vmsn state file
	DisplayName string
	Description string
	Type        string
	// CreateTime is createTimeHigh/createTimeLow: microseconds since 1970
	// in two 32-bit halves, the low one written signed. UTC.
	CreateTime time.Time
	NumDisks   int
	Disks      []VMSDDisk // in diskM order
}

// VMSDDisk is one snapshotN.diskM group: the disk's descriptor as it was
// when the snapshot was taken.
type VMSDDisk struct {
	Index    int    // M
	FileName string // relative to the VM folder, or absolute
	Node     string // "scsi0:0"
}

var (
	vmsdSnapKey = regexp.MustCompile(`^snapshot(\d{1,5})\.(.+)$`)
	vmsdDiskKey = regexp.MustCompile(`^disk(\d{1,5})\.(filename|node)$`)
)

// ParseVMSD parses a .vmsd. An empty file (a VM that never had a snapshot)
// is valid: no snapshots. Malformed numbers are errors naming the line.
// It is the one .vmsd parser: discovery uses it on the host's file, and
// vmdk.ParseVMSD builds snapshot chains from it offline.
func ParseVMSD(text []byte) (*VMSD, error) {
	const src = ".vmsd"
	d, err := ParseDict(src, text)
	if err != nil {
		return nil, err
	}
	v := &VMSD{Encoding: d.String(".encoding")}
	snaps := map[int]*VMSDSnapshot{}
	disks := map[[2]int]*VMSDDisk{}
	var hi, lo = map[int]int64{}, map[int]int64{}
	num := func(e DictEntry, bits int) (int64, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(e.Value), 10, bits)
		if err != nil {
			return 0, parseErr(src, e.Line, "%s %q is not a number", e.Key, clip(e.Value))
		}
		return n, nil
	}
	for _, e := range d.Entries {
		k := asciiLower(e.Key)
		switch k {
		case "snapshot.lastuid", "snapshot.current", "snapshot.numsnapshots":
			n, err := num(e, 32)
			if err != nil {
				return nil, err
			}
			switch k {
			case "snapshot.lastuid":
				v.LastUID = int(n)
			case "snapshot.current":
				v.CurrentUID = int(n)
			default:
				v.NumSnapshots = int(n)
			}
			continue
		case "snapshot.needconsolidate":
			v.NeedConsolidate, _ = d.Bool(e.Key)
			continue
		}
		m := vmsdSnapKey.FindStringSubmatch(k)
		if m == nil {
			continue // .encoding, snapshot.mru*, keys discovery does not need
		}
		slot, _ := strconv.Atoi(m[1])
		s := snaps[slot]
		if s == nil {
			s = &VMSDSnapshot{Slot: slot}
			snaps[slot] = s
		}
		if dm := vmsdDiskKey.FindStringSubmatch(m[2]); dm != nil {
			idx, _ := strconv.Atoi(dm[1])
			dk := disks[[2]int{slot, idx}]
			if dk == nil {
				dk = &VMSDDisk{Index: idx}
				disks[[2]int{slot, idx}] = dk
			}
			if dm[2] == "filename" {
				dk.FileName = e.Value
			} else {
				dk.Node = e.Value
			}
			continue
		}
		switch m[2] {
		case "uid", "parent", "numdisks":
			n, err := num(e, 32)
			if err != nil {
				return nil, err
			}
			switch m[2] {
			case "uid":
				s.UID = int(n)
			case "parent":
				s.ParentUID = int(n)
			default:
				s.NumDisks = int(n)
			}
		case "createtimehigh", "createtimelow":
			n, err := num(e, 64)
			if err != nil {
				return nil, err
			}
			if m[2] == "createtimehigh" {
				hi[slot] = n
			} else {
				lo[slot] = n
			}
		case "filename":
			s.FileName = e.Value
		case "displayname":
			s.DisplayName = e.Value
		case "description":
			s.Description = e.Value
		case "type":
			s.Type = e.Value
		}
	}
	for slot, s := range snaps {
		h, hok := hi[slot]
		l, lok := lo[slot]
		if hok || lok {
			s.CreateTime = time.UnixMicro(h<<32 + int64(uint32(l))).UTC()
		}
	}
	for k, dk := range disks {
		snaps[k[0]].Disks = append(snaps[k[0]].Disks, *dk)
	}
	for _, s := range snaps {
		sort.Slice(s.Disks, func(i, j int) bool { return s.Disks[i].Index < s.Disks[j].Index })
		v.Snapshots = append(v.Snapshots, *s)
	}
	sort.Slice(v.Snapshots, func(i, j int) bool { return v.Snapshots[i].Slot < v.Snapshots[j].Slot })
	v.check()
	return v, nil
}

func (v *VMSD) check() {
	warn := func(format string, args ...any) { v.Warnings = append(v.Warnings, fmt.Sprintf(format, args...)) }
	if v.NumSnapshots != len(v.Snapshots) {
		warn("snapshot.numSnapshots is %d but %d snapshots are described", v.NumSnapshots, len(v.Snapshots))
	}
	uids := map[int]bool{}
	for _, s := range v.Snapshots {
		if s.UID == 0 {
			warn("snapshot%d has no uid", s.Slot)
		} else if uids[s.UID] {
			warn("uid %d is used by two snapshots", s.UID)
		}
		uids[s.UID] = true
	}
	for _, s := range v.Snapshots {
		if s.ParentUID != 0 && !uids[s.ParentUID] {
			warn("snapshot%d (uid %d) has parent uid %d, which is not described", s.Slot, s.UID, s.ParentUID)
		}
		if s.NumDisks != len(s.Disks) {
			warn("snapshot%d (uid %d) has numDisks %d but %d disks are described", s.Slot, s.UID, s.NumDisks, len(s.Disks))
		}
	}
	if v.CurrentUID != 0 && !uids[v.CurrentUID] {
		warn("snapshot.current is uid %d, which is not described", v.CurrentUID)
	}
}

// ByUID returns the snapshot with uid, or nil.
func (v *VMSD) ByUID(uid int) *VMSDSnapshot {
	for i := range v.Snapshots {
		if v.Snapshots[i].UID == uid {
			return &v.Snapshots[i]
		}
	}
	return nil
}

// ByName returns the snapshots whose display name is name.
func (v *VMSD) ByName(name string) []*VMSDSnapshot {
	var hits []*VMSDSnapshot
	for i := range v.Snapshots {
		if v.Snapshots[i].DisplayName == name {
			hits = append(hits, &v.Snapshots[i])
		}
	}
	return hits
}
