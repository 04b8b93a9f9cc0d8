package vmdk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Disk is an opened disk and its snapshot chain, read as one guest disk.
// It is safe for concurrent use.
type Disk struct {
	// Layers holds the chain, the opened disk first and the base last.
	Layers []*Layer
	// Warnings collects the layers' warnings and chain-level ones (a CID
	// mismatch read through with IgnoreCID).
	Warnings []string
	size     int64
	view     bool      // made by AtDepth: the layers belong to another Disk
	r        *resolver // the root the chain was resolved in
}

// Run is one stretch of the guest disk with a single state.
type Run struct {
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
	State  State `json:"state"`
	// Depth is the layer that answered (0 = the opened disk); for
	// Unallocated it is len(Layers): no layer holds the bytes and they
	// read as zeros.
	Depth int `json:"depth"`
}

// Open opens the disk whose descriptor (or hosted sparse file) is at path
// and follows its parents. Every parentCID must match its parent's CID
// unless o.IgnoreCID is set; a missing parent, a loop and a mismatch are
// errors that name the files involved.
func Open(path string, o *Options) (*Disk, error) {
	return openIn(path, "", o)
}

// openIn opens the chain of path confined to root ("" for the default).
func openIn(path, root string, o *Options) (_ *Disk, err error) {
	r, err := newResolver(path, root, o)
	if err != nil {
		return nil, err
	}
	// d, not the named result, is closed on error: every error return
	// sets the result to nil, and the layers opened so far must close.
	d := &Disk{r: r}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	seen := map[string]string{}
	cur := path
	for {
		abs, _ := filepath.Abs(cur)
		if prev, loop := seen[abs]; loop {
			return nil, corruptf("vmdk: the chain loops: %s names %s, which is already in the chain", prev, cur)
		}
		if len(d.Layers) >= maxChainDepth {
			return nil, corruptf("vmdk: %s: the chain is deeper than %d layers", path, maxChainDepth)
		}
		l, err := openLayer(cur, r)
		if err != nil {
			return nil, err
		}
		if n := len(d.Layers); n > 0 {
			if err := d.checkLink(d.Layers[n-1], l, o); err != nil {
				l.Close()
				return nil, err
			}
		}
		d.Layers = append(d.Layers, l)
		d.Warnings = append(d.Warnings, l.Warnings...)
		hint := l.Descriptor.ParentFileNameHint
		if hint == "" {
			if l.Descriptor.hasParentCID && l.Descriptor.ParentCID != NoParentCID {
				d.Warnings = append(d.Warnings, fmt.Sprintf("%s: parentCID=%08x but no parentFileNameHint: read as a base disk", cur, l.Descriptor.ParentCID))
			}
			break
		}
		next, err := r.findParent(cur, hint)
		if err != nil {
			return nil, err
		}
		seen[abs] = cur
		cur = next
	}
	d.size = d.Layers[0].Size
	return d, nil
}

// checkLink compares child's parentCID with parent's CID.
func (d *Disk) checkLink(child, parent *Layer, o *Options) error {
	cd, pd := child.Descriptor, parent.Descriptor
	if !cd.hasParentCID || !pd.hasCID {
		msg := fmt.Sprintf("vmdk: %s: cannot check the link to %s: ", child.Path, parent.Path)
		if !cd.hasParentCID {
			msg += "the child has no parentCID line"
		} else {
			msg += "the parent has no CID line"
		}
		if o != nil && o.IgnoreCID {
			d.Warnings = append(d.Warnings, msg+"; read through anyway (--ignore-cid)")
			return nil
		}
		return &classified{msg + "; use --ignore-cid to read through it", ErrCIDMismatch}
	}
	if cd.ParentCID == pd.CID {
		return nil
	}
	e := &CIDMismatchError{Child: child.Path, Parent: parent.Path, ParentCID: cd.ParentCID, CID: pd.CID}
	if o != nil && o.IgnoreCID {
		d.Warnings = append(d.Warnings, fmt.Sprintf("%s: parentCID=%08x but %s has CID=%08x: the parent changed after this delta was made; read through the mismatch anyway (--ignore-cid)",
			child.Path, cd.ParentCID, parent.Path, pd.CID))
		return nil
	}
	return e
}

// Size is the guest disk size in bytes (the opened layer's size).
func (d *Disk) Size() int64 { return d.size }

// Encrypted reports whether any layer is encrypted.
func (d *Disk) Encrypted() bool {
	for _, l := range d.Layers {
		if l.Encrypted() {
			return true
		}
	}
	return false
}

// MapRun describes the guest bytes from off: their state, how many bytes
// from off (at most n) share it, and which layer answered.
func (d *Disk) MapRun(off, n int64) (Run, error) {
	if off < 0 || off >= d.size || n <= 0 {
		return Run{}, fmt.Errorf("vmdk: map at byte %d: outside the disk (%d bytes)", off, d.size)
	}
	n = min(n, d.size-off)
	for i, l := range d.Layers {
		st, ln, err := l.mapRun(off, n)
		if err != nil {
			return Run{}, err
		}
		n = ln
		if st != Unallocated {
			return Run{off, n, st, i}, nil
		}
	}
	return Run{off, n, Unallocated, len(d.Layers)}, nil
}

// chainWalker maps the disk from start to end, remembering each layer's
// last run: a layer's long run is computed once, not again for every
// shorter run of the layers above it, so a walk costs each layer's map
// once (linear in the tables the files hold).
type chainWalker struct {
	d    *Disk
	runs []layerRun
}

type layerRun struct {
	start, end int64
	st         State
	ok         bool
}

// next maps the run starting at off; off must not decrease between calls.
func (w *chainWalker) next(off int64) (Run, error) {
	if w.runs == nil {
		w.runs = make([]layerRun, len(w.d.Layers))
	}
	n := w.d.size - off
	for i, l := range w.d.Layers {
		r := &w.runs[i]
		if !r.ok || off < r.start || off >= r.end {
			st, ln, err := l.mapRun(off, w.d.size-off)
			if err != nil {
				return Run{}, err
			}
			*r = layerRun{off, off + ln, st, true}
		}
		n = min(n, r.end-off)
		if r.st != Unallocated {
			return Run{off, n, r.st, i}, nil
		}
	}
	return Run{off, n, Unallocated, len(w.d.Layers)}, nil
}

// ReadAt reads the guest disk through the chain.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("vmdk: read at negative offset %d", off)
	}
	if off >= d.size {
		return 0, io.EOF
	}
	var eof error
	if int64(len(p)) > d.size-off {
		p, eof = p[:d.size-off], io.EOF
	}
	done := 0
	for done < len(p) {
		r, err := d.MapRun(off+int64(done), int64(len(p)-done))
		if err != nil {
			return done, err
		}
		buf := p[done : done+int(r.Length)]
		if r.State == Data {
			if err := d.Layers[r.Depth].readData(buf, r.Offset); err != nil {
				return done, err
			}
		} else {
			clear(buf)
		}
		done += len(buf)
	}
	return done, eof
}

// AtDepth returns the disk as layer n saw it: layer n and its parents.
// Depth 0 is the opened disk itself. The view shares the files of d:
// close d, not the view.
func (d *Disk) AtDepth(n int) (*Disk, error) {
	if n < 0 || n >= len(d.Layers) {
		return nil, fmt.Errorf("vmdk: chain depth %d does not exist: the chain has %d layers (0 to %d)", n, len(d.Layers), len(d.Layers)-1)
	}
	v := &Disk{Layers: d.Layers[n:], size: d.Layers[n].Size, view: true}
	for _, l := range v.Layers {
		v.Warnings = append(v.Warnings, l.Warnings...)
	}
	return v, nil
}

// depthOf returns the chain depth of the layer stored at path, -1 when
// it is not in the chain.
func (d *Disk) depthOf(path string) int {
	st, err := os.Stat(path)
	if err != nil {
		return -1
	}
	for i, l := range d.Layers {
		if lst, err := os.Stat(l.Path); err == nil && os.SameFile(st, lst) {
			return i
		}
	}
	return -1
}

// Close closes every layer. Closing a view from AtDepth does nothing.
func (d *Disk) Close() error {
	if d == nil || d.view {
		return nil
	}
	var errs []error
	for _, l := range d.Layers {
		errs = append(errs, l.Close())
	}
	d.r.close()
	return errors.Join(errs...)
}
