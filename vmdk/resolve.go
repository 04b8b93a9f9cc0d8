package vmdk

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Options control how a disk and its chain are opened. The zero value
// (or nil) is strict: CIDs must match and files are looked for only next
// to the descriptor that names them.
type Options struct {
	// IgnoreCID reads through a parentCID mismatch instead of failing; the
	// mismatch is still recorded in Disk.Warnings.
	IgnoreCID bool
	// Volumes maps an ESXi datastore, as named in /vmfs/volumes/<uuid or
	// name>/..., to the local folder holding its copy, so absolute
	// parentFileNameHint and extent paths resolve inside the case.
	Volumes map[string]string
	// ResolveParent, when set, is asked first where the parent named by
	// hint (as written in child's descriptor) is. Return "" to fall back to
	// the built-in search.
	ResolveParent func(child, hint string) (string, error)
	// ResolveDevice, when set, returns the path of the collected image of
	// the raw device behind a VMFSRDM or VMFSRAW extent, or "" when it is
	// not in the case. Without it, or when it returns "", a collected copy
	// of the mapping file itself is used if it is as large as the extent
	// (reading an RDM mapping file on ESXi reads the device).
	ResolveDevice func(ref DeviceRef) (string, error)
}

// DeviceRef describes a raw device extent to resolve.
type DeviceRef struct {
	Descriptor  string     // path of the descriptor naming the device
	CreateType  string     // vmfsRawDeviceMap, vmfsPassthroughRawDeviceMap, vmfsRaw...
	Extent      ExtentLine // the VMFSRDM/VMFSRAW line
	MappingFile string     // where the mapping file would be in the case
}

// candidates lists where a name written on the host (an extent file name
// or a parentFileNameHint) may be found in the case, best first:
// the mapped datastore path for /vmfs/volumes/..., the name relative to
// dir, its base name in dir, and ../<its last folder>/<base name>.
// Absolute paths are never opened as given: on the examiner's machine they
// name the examiner's files, not the evidence.
func (o *Options) candidates(dir, ref string) []string {
	ref = strings.ReplaceAll(ref, `\`, "/")
	var out []string
	abs := strings.HasPrefix(ref, "/") || (len(ref) >= 2 && ref[1] == ':')
	if abs {
		if rest, ok := strings.CutPrefix(ref, "/vmfs/volumes/"); ok && o != nil {
			ds, rel, _ := strings.Cut(rest, "/")
			if local, ok := o.Volumes[ds]; ok && rel != "" {
				out = append(out, filepath.Join(local, filepath.FromSlash(rel)))
			}
		}
	} else {
		out = append(out, filepath.Join(dir, filepath.FromSlash(ref)))
	}
	base := path.Base(ref)
	if base != "" && base != "/" && base != "." && base != ".." {
		out = append(out, filepath.Join(dir, base))
		if d := path.Dir(ref); d != "." && d != "/" && path.Base(d) != ".." && path.Base(d) != "." {
			out = append(out, filepath.Join(dir, "..", path.Base(d), base))
		}
	}
	var uniq []string
	for _, c := range out {
		dup := false
		for _, u := range uniq {
			dup = dup || u == c
		}
		if !dup {
			uniq = append(uniq, c)
		}
	}
	return uniq
}

// find returns the first candidate that is a regular file.
func (o *Options) find(dir, ref string) (string, []string) {
	cands := o.candidates(dir, ref)
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c, cands
		}
	}
	return "", cands
}

// findParent resolves child's parentFileNameHint.
func (o *Options) findParent(child, hint string) (string, error) {
	if o != nil && o.ResolveParent != nil {
		p, err := o.ResolveParent(child, hint)
		if err != nil {
			return "", fmt.Errorf("vmdk: %s: resolving parent %q: %w", child, hint, err)
		}
		if p != "" {
			return p, nil
		}
	}
	p, tried := o.find(filepath.Dir(child), hint)
	if p == "" {
		return "", &classified{fmt.Sprintf("vmdk: %s: parent %q (parentFileNameHint) not found; looked for %s. "+
			"Collect the parent disk into the case folder (or map its datastore with --volume)", child, hint, strings.Join(tried, ", ")), ErrMissingParent}
	}
	return p, nil
}
