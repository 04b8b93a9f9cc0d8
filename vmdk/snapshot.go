package vmdk

import (
	"fmt"
	"path/filepath"
	"strings"
)

// AtSnapshot returns the disk as it was when the snapshot called name
// (display name, or UID) was taken: the chain starting at the descriptor
// the .vmsd records for that snapshot. When that descriptor is in d's
// chain the result is a view of d; when the snapshot tree branched away
// from d, the snapshot's own chain is opened, provided it ends at d's base
// disk. Close the result as well as d.
func (d *Disk) AtSnapshot(v *VMSD, name string, o *Options) (*Disk, error) {
	s, err := v.Find(name)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(v.Path)
	var files []string
	for _, sd := range s.Disks {
		files = append(files, sd.FileName)
		p, _, err := d.r.find(v.Path, "snapshot disk "+sd.Node, dir, sd.FileName)
		if err != nil {
			return nil, err
		}
		if p != "" {
			if i := d.depthOf(p); i >= 0 {
				return d.AtDepth(i)
			}
		}
	}
	base := d.Layers[len(d.Layers)-1].Path
	var errs []string
	for _, sd := range s.Disks {
		p, _, _ := d.r.find(v.Path, "snapshot disk "+sd.Node, dir, sd.FileName)
		if p == "" {
			continue
		}
		other, err := openIn(p, d.r.dir, o)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if other.depthOf(base) >= 0 {
			return other, nil
		}
		other.Close()
	}
	msg := fmt.Sprintf("vmdk: snapshot %q (uid %d) in %s records no disk of the chain of %s (its disks: %s)",
		s.DisplayName, s.UID, v.Path, d.Layers[0].Path, strings.Join(files, ", "))
	if len(errs) > 0 {
		msg += "; opening them failed: " + strings.Join(errs, "; ")
	}
	return nil, fmt.Errorf("%s", msg)
}

// snapshotNames returns, per chain depth, the snapshots whose state that
// layer holds.
func (d *Disk) snapshotNames(v *VMSD, o *Options) map[int][]string {
	out := map[int][]string{}
	if v == nil {
		return out
	}
	dir := filepath.Dir(v.Path)
	for _, s := range v.Snapshots {
		for _, sd := range s.Disks {
			if p, _, _ := d.r.find(v.Path, "snapshot disk "+sd.Node, dir, sd.FileName); p != "" {
				if i := d.depthOf(p); i >= 0 {
					out[i] = append(out[i], s.DisplayName)
				}
			}
		}
	}
	return out
}
