package vmdk

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Severity grades a Finding.
type Severity string

// Severities, from worst.
const (
	SevError   Severity = "error"   // the data cannot be read faithfully
	SevWarning Severity = "warning" // readable, but an examiner should know
	SevInfo    Severity = "info"    // a fact worth recording
)

// Finding is one inconsistency or notable fact found by Verify.
type Finding struct {
	Severity Severity `json:"severity"`
	File     string   `json:"file"`
	Where    string   `json:"where,omitempty"` // e.g. "grain table 3 entry 17"
	Message  string   `json:"message"`
}

// String renders "SEVERITY: FILE: WHERE: MESSAGE".
func (f Finding) String() string {
	s := fmt.Sprintf("%s: %s", f.Severity, f.File)
	if f.Where != "" {
		s += ": " + f.Where
	}
	return s + ": " + f.Message
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	Path          string    `json:"path"`
	Layers        []string  `json:"layers"` // descriptors walked, the opened disk first
	GrainsChecked int64     `json:"grains_checked"`
	Findings      []Finding `json:"findings"`
}

// OK reports whether no error-level finding was made.
func (r *VerifyReport) OK() bool {
	for _, f := range r.Findings {
		if f.Severity == SevError {
			return false
		}
	}
	return true
}

// Errors counts error-level findings.
func (r *VerifyReport) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == SevError {
			n++
		}
	}
	return n
}

// WriteText renders the report for a terminal.
func (r *VerifyReport) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "verify %s: %d layer(s), %d grains checked\n", r.Path, len(r.Layers), r.GrainsChecked)
	for _, f := range r.Findings {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	if r.OK() {
		b.WriteString("result: consistent\n")
	} else {
		fmt.Fprintf(&b, "result: INCONSISTENT (%d errors)\n", r.Errors())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// maxFindingsPerKind keeps one systematic fault (every grain of a
// truncated file) from burying the others; the rest are counted.
const maxFindingsPerKind = 20

// verifier collects findings for one run.
type verifier struct {
	ctx    context.Context
	rep    *VerifyReport
	counts map[string]int // file+kind -> findings so far
}

// add records a finding; kind groups findings for the per-kind limit.
func (v *verifier) add(sev Severity, file, kind, where, format string, args ...any) {
	key := file + "\x00" + kind
	v.counts[key]++
	if v.counts[key] > maxFindingsPerKind {
		return
	}
	v.rep.Findings = append(v.rep.Findings, Finding{sev, file, where, fmt.Sprintf(format, args...)})
}

// summarise reports how many findings of each kind were left out.
func (v *verifier) summarise() {
	for key, n := range v.counts {
		if n > maxFindingsPerKind {
			file, kind, _ := strings.Cut(key, "\x00")
			v.rep.Findings = append(v.rep.Findings, Finding{SevError, file, "",
				fmt.Sprintf("%d more findings of the kind %q were not listed", n-maxFindingsPerKind, kind)})
		}
	}
}

// Verify walks the disk at path and every parent: descriptors, headers,
// every grain directory and table entry, and (for compressed grains)
// every grain's marker and zlib stream. It reports each inconsistency it
// finds (out-of-range offsets, overlapping grains, bad markers, CID
// mismatches, missing files...) instead of stopping at the first. The
// error is non-nil only when the walk itself cannot proceed (ctx).
func Verify(ctx context.Context, path string, o *Options) (*VerifyReport, error) {
	v := &verifier{ctx: ctx, rep: &VerifyReport{Path: path}, counts: map[string]int{}}
	r, err := newResolver(path, "", o)
	if err != nil {
		v.add(SevError, path, "open", "", "%v", err)
		return v.rep, nil
	}
	defer r.close()
	var prev *Layer
	seen := map[string]bool{}
	cur := path
	for depth := 0; ; depth++ {
		if seen[cur] || depth >= maxChainDepth {
			v.add(SevError, cur, "chain", "", "the chain loops back to this file or is deeper than %d layers", maxChainDepth)
			break
		}
		seen[cur] = true
		l, err := openLayer(cur, r)
		if err != nil {
			v.add(SevError, cur, "open", "", "%v", err)
			break
		}
		v.rep.Layers = append(v.rep.Layers, cur)
		err = v.layer(l, prev)
		if prev != nil {
			prev.Close()
		}
		prev = l
		if err != nil {
			l.Close()
			return v.rep, err
		}
		hint := l.Descriptor.ParentFileNameHint
		if hint == "" {
			break
		}
		next, err := r.findParent(cur, hint)
		if err != nil {
			v.add(SevError, cur, "parent", "parentFileNameHint", "%v", err)
			break
		}
		cur = next
	}
	if prev != nil {
		prev.Close()
	}
	v.summarise()
	return v.rep, nil
}

// layer checks one layer and its link to the child above it.
func (v *verifier) layer(l, child *Layer) error {
	for _, w := range l.Warnings {
		v.add(SevWarning, l.Path, "warning", "", "%s", w)
	}
	d := l.Descriptor
	if child != nil {
		cd := child.Descriptor
		switch {
		case !cd.hasParentCID || !d.hasCID:
			v.add(SevError, child.Path, "cid", "parentCID", "cannot check the link to %s: CID or parentCID line missing", l.Path)
		case cd.ParentCID != d.CID:
			v.add(SevError, child.Path, "cid", "parentCID", "parentCID=%08x but the parent %s has CID=%08x: the parent changed after this delta was made",
				cd.ParentCID, l.Path, d.CID)
		}
		if child.Size != l.Size {
			v.add(SevWarning, child.Path, "size", "", "the disk is %d bytes but its parent %s is %d bytes", child.Size, l.Path, l.Size)
		}
	}
	if d.Encrypted() {
		v.add(SevWarning, l.Path, "encrypted", "", "the descriptor says the disk is encrypted: the extents hold ciphertext")
	}
	v.createType(l)
	for i, e := range l.extents {
		if err := v.ctx.Err(); err != nil {
			return err
		}
		where := fmt.Sprintf("extent %d", i+1)
		if e.line.Line > 0 && !l.Embedded {
			where = fmt.Sprintf("extent line %d", e.line.Line)
		}
		var err error
		switch x := e.ext.(type) {
		case *flatExtent:
			if end := x.base + e.size; x.fileSize < end {
				v.add(SevError, l.Path, "truncated", where, "%s is %d bytes but the extent needs %d: the file is truncated; %d bytes of the disk are missing",
					x.name, x.fileSize, end, end-max(x.fileSize, x.base))
			}
		case *sparseExtent:
			err = v.sparse(x, where)
		case *cowdExtent:
			err = v.cowd(x, where)
		case *seSparseExtent:
			err = v.seSparse(x, where)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// createType checks that the extent types fit the createType.
func (v *verifier) createType(l *Layer) {
	want := map[string][]ExtentType{
		"vmfs": {ExtentVMFS}, "monolithicFlat": {ExtentFlat}, "twoGbMaxExtentFlat": {ExtentFlat},
		"twoGbMaxExtentSparse": {ExtentSparse}, "vmfsSparse": {ExtentVMFSSparse, ExtentSparse},
		"seSparse": {ExtentSESparse}, "vmfsRawDeviceMap": {ExtentVMFSRDM}, "vmfsPassthroughRawDeviceMap": {ExtentVMFSRDM},
		"vmfsRaw": {ExtentVMFSRaw},
	}[l.Descriptor.CreateType]
	if want == nil || l.Embedded {
		return
	}
	for _, e := range l.Descriptor.Extents {
		ok := false
		for _, t := range want {
			ok = ok || e.Type == t || e.Type == ExtentZero
		}
		if !ok {
			v.add(SevWarning, l.Path, "createType", fmt.Sprintf("line %d", e.Line), "a %s extent in a %s disk", e.Type, l.Descriptor.CreateType)
		}
	}
}
