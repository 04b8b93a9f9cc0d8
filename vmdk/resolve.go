package vmdk

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Options control how a disk and its chain are opened. The zero value
// (or nil) is strict: CIDs must match and every file is looked for only
// inside the opened disk's folder.
type Options struct {
	// IgnoreCID reads through a parentCID mismatch instead of failing; the
	// mismatch is still recorded in Disk.Warnings.
	IgnoreCID bool
	// Root is the folder every reference (extent files, parents, mapped
	// datastores) must resolve inside, symbolic links included. "" means
	// the folder of the disk opened. For a disk in a collected case the
	// caller passes the case's evidence folder; anything wider is the
	// examiner's explicit choice (esxsink's --root).
	Root string
	// Volumes maps an ESXi datastore, as named in /vmfs/volumes/<uuid or
	// name>/..., to the local folder holding its copy, so absolute
	// parentFileNameHint and extent paths resolve inside the case. The
	// folders must lie inside Root.
	Volumes map[string]string
	// ResolveParent, when set, is asked first where the parent named by
	// hint (as written in child's descriptor) is. Return "" to fall back to
	// the built-in search. A path it returns is trusted: it may lie
	// outside Root.
	ResolveParent func(child, hint string) (string, error)
	// Rename, when set, maps a path under the root as the host names it
	// (a reference joined to its descriptor's folder, or to a mapped
	// datastore) to where the case holds that file: names the
	// workstation cannot store were changed when the file was collected.
	// It returns p itself when p has no other name. What it returns is
	// held to the root like any reference.
	Rename func(p string) string
	// ResolveDevice, when set, returns the path of the collected image of
	// the raw device behind a VMFSRDM or VMFSRAW extent, or "" when it is
	// not in the case. A path it returns is trusted, like ResolveParent's.
	// Without it, or when it returns "", a collected copy of the mapping
	// file itself is used if it is as large as the extent (reading an RDM
	// mapping file on ESXi reads the device).
	ResolveDevice func(ref DeviceRef) (string, error)
}

// DeviceRef describes a raw device extent to resolve.
type DeviceRef struct {
	Descriptor  string     // path of the descriptor naming the device
	CreateType  string     // vmfsRawDeviceMap, vmfsPassthroughRawDeviceMap, vmfsRaw...
	Extent      ExtentLine // the VMFSRDM/VMFSRAW line
	MappingFile string     // where the mapping file would be in the case
}

// EscapeError reports a reference that resolves outside the root: by
// "../", by a datastore mapped outside it, or by a symbolic link. It
// matches ErrOutsideRoot.
type EscapeError struct {
	File  string // the descriptor holding the reference
	Field string // "extent line 5", "parentFileNameHint"
	Ref   string // the reference as written
	Path  string // where it leads
	Root  string
	Why   string // "by ../", "through a symbolic link"...
}

// Error names the file, the field, the reference and what to do.
func (e *EscapeError) Error() string {
	return fmt.Sprintf("vmdk: %s: %s %q leads outside the root %s (%s, to %s): a disk's references may only name files of the evidence; "+
		"if that file really belongs to it, widen the root explicitly (esxsink: --root DIR)", e.File, e.Field, e.Ref, e.Root, e.Why, e.Path)
}

// Is makes errors.Is(err, ErrOutsideRoot) true.
func (e *EscapeError) Is(target error) bool { return target == ErrOutsideRoot }

// resolver finds and opens the files a chain names, confined to one root
// folder: lexically (no "../" past it) and through os.Root, which refuses
// symbolic links that leave it.
type resolver struct {
	o       *Options
	dir     string // absolute, clean
	root    *os.Root
	trusted map[string]bool // absolute paths the caller's callbacks returned
}

// newResolver opens the root for a chain whose opened disk is disk: root
// when given, else o.Root, else disk's folder.
func newResolver(disk, root string, o *Options) (*resolver, error) {
	abs, err := filepath.Abs(disk)
	if err != nil {
		return nil, fmt.Errorf("vmdk: %w", err)
	}
	dir := filepath.Dir(abs)
	if root == "" && o != nil {
		root = o.Root
	}
	if root != "" {
		if dir, err = filepath.Abs(root); err != nil {
			return nil, fmt.Errorf("vmdk: root: %w", err)
		}
	}
	r := &resolver{o: o, dir: dir, trusted: map[string]bool{}}
	if r.root, err = os.OpenRoot(dir); err != nil {
		return nil, fmt.Errorf("vmdk: open the root folder: %w", err)
	}
	if _, ok := r.rel(abs); !ok {
		r.close()
		return nil, &EscapeError{File: disk, Field: "the disk", Ref: disk, Path: abs, Root: dir, Why: "it is not inside the root given"}
	}
	return r, nil
}

func (r *resolver) close() {
	if r != nil && r.root != nil {
		r.root.Close()
	}
}

// rel returns p relative to the root, and false when p is lexically
// outside it.
func (r *resolver) rel(p string) (string, bool) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", false
	}
	rel, err := filepath.Rel(r.dir, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return rel, true
}

// open opens p, which must lie inside the root (or have been returned by
// a caller's callback). A symbolic link leaving the root is an
// EscapeError naming from and field.
func (r *resolver) open(p, from, field, ref string) (*os.File, error) {
	if abs, _ := filepath.Abs(p); r.trusted[abs] {
		return os.Open(p)
	}
	rel, ok := r.rel(p)
	if !ok {
		abs, _ := filepath.Abs(p)
		return nil, &EscapeError{File: from, Field: field, Ref: ref, Path: abs, Root: r.dir, Why: "by its path"}
	}
	f, err := r.root.Open(rel)
	if err != nil {
		return nil, r.explain(err, p, from, field, ref)
	}
	return f, nil
}

// stat is open's Stat: it follows links only inside the root.
func (r *resolver) stat(p, from, field, ref string) (fs.FileInfo, error) {
	if abs, _ := filepath.Abs(p); r.trusted[abs] {
		return os.Stat(p)
	}
	rel, ok := r.rel(p)
	if !ok {
		abs, _ := filepath.Abs(p)
		return nil, &EscapeError{File: from, Field: field, Ref: ref, Path: abs, Root: r.dir, Why: "by its path"}
	}
	st, err := r.root.Stat(rel)
	if err != nil {
		return nil, r.explain(err, p, from, field, ref)
	}
	return st, nil
}

// explain turns os.Root's refusal of a link that leaves the root into an
// EscapeError; other errors (not found...) pass unchanged.
func (r *resolver) explain(err error, p, from, field, ref string) error {
	if errors.Is(err, fs.ErrNotExist) {
		if _, lerr := os.Lstat(p); lerr != nil {
			return fmt.Errorf("vmdk: %w", err)
		}
	}
	if real, rerr := filepath.EvalSymlinks(p); rerr == nil {
		if _, ok := r.rel(real); !ok {
			return &EscapeError{File: from, Field: field, Ref: ref, Path: real, Root: r.dir, Why: "through a symbolic link"}
		}
		if real != filepath.Clean(p) {
			return fmt.Errorf("vmdk: %s: %s %q: %s is a symbolic link to %s that cannot be followed safely (an absolute link target): "+
				"replace it by a relative link or the file itself: %w", from, field, ref, p, real, err)
		}
	}
	return fmt.Errorf("vmdk: %w", err)
}

// candidate is a place where a referenced file may be.
type candidate struct {
	path    string
	written bool // the reference as written (relative, or a mapped datastore), not a guess
	why     string
}

// candidates lists where a name written on the host (an extent file name
// or a parentFileNameHint) may be found in the case, best first: the
// mapped datastore path for /vmfs/volumes/..., the name relative to dir,
// its base name in dir, and ../<its last folder>/<base name>. Absolute
// paths are never opened as given: on the examiner's machine they name
// the examiner's files, not the evidence.
func (r *resolver) candidates(dir, ref string) []candidate {
	ref = strings.ReplaceAll(ref, `\`, "/")
	var out []candidate
	// A Windows hint is absolute as C:/... (after the slashes above); a
	// name such as a:b-flat.vmdk is a file of dir, as ESXi allows.
	drive := len(ref) >= 3 && ref[1] == ':' && ref[2] == '/' && ('a' <= ref[0]|0x20 && ref[0]|0x20 <= 'z')
	abs := strings.HasPrefix(ref, "/") || drive
	if abs {
		if rest, ok := strings.CutPrefix(ref, "/vmfs/volumes/"); ok && r.o != nil {
			ds, rel, _ := strings.Cut(rest, "/")
			if local, ok := r.o.Volumes[ds]; ok && rel != "" {
				out = append(out, candidate{filepath.Join(local, filepath.FromSlash(rel)), true, "through the datastore " + ds + " mapped to " + local})
			}
		}
	} else {
		out = append(out, candidate{filepath.Join(dir, filepath.FromSlash(ref)), true, "by ../"})
	}
	base := path.Base(ref)
	if base != "" && base != "/" && base != "." && base != ".." {
		out = append(out, candidate{path: filepath.Join(dir, base)})
		if d := path.Dir(ref); d != "." && d != "/" && path.Base(d) != ".." && path.Base(d) != "." {
			out = append(out, candidate{path: filepath.Join(dir, "..", path.Base(d), base)})
		}
	}
	if r.o != nil && r.o.Rename != nil {
		for i := range out {
			if q := r.o.Rename(out[i].path); q != "" && q != out[i].path {
				out[i].path = q
				if out[i].why != "" {
					out[i].why += ", renamed as the case recorded"
				}
			}
		}
	}
	var uniq []candidate
	for _, c := range out {
		dup := false
		for _, u := range uniq {
			dup = dup || u.path == c.path
		}
		if !dup {
			uniq = append(uniq, c)
		}
	}
	return uniq
}

// find returns the first candidate for ref (named in from's field) that
// is a regular file inside the root, and the places tried. A reference
// whose written form leads outside the root, or a file that is a link
// leaving it, is an EscapeError: the descriptor asks for a file that is
// not evidence. Guessed places outside the root are skipped.
func (r *resolver) find(from, field, dir, ref string) (string, []string, error) {
	var tried []string
	for _, c := range r.candidates(dir, ref) {
		if _, ok := r.rel(c.path); !ok {
			if c.written {
				abs, _ := filepath.Abs(c.path)
				return "", nil, &EscapeError{File: from, Field: field, Ref: ref, Path: abs, Root: r.dir, Why: c.why}
			}
			tried = append(tried, c.path+" (outside the root, not tried)")
			continue
		}
		tried = append(tried, c.path)
		st, err := r.stat(c.path, from, field, ref)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", nil, err // an escape, a link we cannot follow, no permission...
		}
		if err == nil && st.Mode().IsRegular() {
			return c.path, tried, nil
		}
	}
	return "", tried, nil
}

// findParent resolves child's parentFileNameHint.
func (r *resolver) findParent(child, hint string) (string, error) {
	if r.o != nil && r.o.ResolveParent != nil {
		p, err := r.o.ResolveParent(child, hint)
		if err != nil {
			return "", fmt.Errorf("vmdk: %s: resolving parent %q: %w", child, hint, err)
		}
		if p != "" {
			r.trust(p)
			return p, nil
		}
	}
	p, tried, err := r.find(child, "parentFileNameHint", filepath.Dir(child), hint)
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", &classified{fmt.Sprintf("vmdk: %s: parent %q (parentFileNameHint) not found; looked for %s. "+
			"Collect the parent disk into the case folder (or map its datastore with --volume, or widen the root with --root)", child, hint, strings.Join(tried, ", ")), ErrMissingParent}
	}
	return p, nil
}

// trust records a path the caller's callback chose.
func (r *resolver) trust(p string) {
	if abs, err := filepath.Abs(p); err == nil {
		r.trusted[abs] = true
	}
}
