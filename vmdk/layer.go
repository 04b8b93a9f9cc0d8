package vmdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"unicode/utf8"
)

// Layer is one descriptor of a chain with its extents open: a base disk
// or one snapshot delta.
type Layer struct {
	Path       string      // the descriptor (or self-contained sparse file)
	Descriptor *Descriptor // embedded descriptors are parsed too
	Embedded   bool        // the descriptor lives inside a KDMV file
	Size       int64       // virtual size in bytes
	// Warnings lists oddities that do not stop reading but belong in a
	// report: unclean-shutdown flags, size disagreements, truncation.
	Warnings []string

	extents []layerExtent
	files   []*os.File
	r       *resolver // confines the files it opens; nil: plain os.Open
	opened  map[string]*os.File
}

type layerExtent struct {
	start, size int64 // in the layer, bytes
	line        ExtentLine
	path        string // resolved file, "" for ZERO/NOACCESS
	ext         extent
}

// openLayer opens one descriptor and its extents; it does not follow the
// parent.
func openLayer(p string, r *resolver) (_ *Layer, err error) {
	// l, not the named result, is closed on error: every error return
	// sets the result to nil.
	l := &Layer{Path: p, r: r}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	f, size, err := l.open(p, p, "the disk", p)
	if err != nil {
		return nil, err
	}
	head := make([]byte, min(size, SectorSize))
	if err := readFull(f, p, head, 0); err != nil {
		return nil, err
	}
	switch magicOf(head) {
	case "KDMV":
		if err := l.openSelfContained(f, size); err != nil {
			return nil, err
		}
		return l, nil
	case "COWD":
		return nil, fmt.Errorf("vmdk: %s is a COWD (vmfsSparse) data file, not a descriptor: open the descriptor that names it (usually the same name without -delta)", p)
	case "seSparse":
		return nil, fmt.Errorf("vmdk: %s is a seSparse data file, not a descriptor: open the descriptor that names it (usually the same name without -sesparse)", p)
	}
	if !looksLikeText(head) {
		return nil, fmt.Errorf("vmdk: %s is not a descriptor (its first sector is binary data): if it is a flat extent (-flat.vmdk) or another data file, open the descriptor .vmdk that names it", p)
	}
	if size > MaxDescriptorSize {
		return nil, fmt.Errorf("vmdk: %s is %d bytes, too large for a descriptor: if it is a flat extent (-flat.vmdk), open the descriptor .vmdk that names it", p, size)
	}
	text := make([]byte, size)
	if err := readFull(f, p, text, 0); err != nil {
		return nil, err
	}
	d, err := ParseDescriptor(p, text)
	if err != nil {
		return nil, err
	}
	l.Descriptor = d
	if err := l.openExtents(); err != nil {
		return nil, err
	}
	return l, nil
}

// looksLikeText reports whether b can start a descriptor: text up to
// the first NUL (qemu-img pads descriptor files with zeros), valid UTF-8
// (a rune cut at the end of b excepted), no control characters but
// whitespace. A sector of zeros is data, not an empty descriptor.
func looksLikeText(b []byte) bool {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		if i == 0 {
			return false
		}
		b = b[:i]
	}
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1 && (len(b) >= utf8.UTFMax || utf8.FullRune(b)):
			return false
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r' && r != '\f', r == 0x7f:
			return false
		}
		b = b[n:]
	}
	return true
}

// magicOf names the binary format a file starts with, "" for text.
func magicOf(b []byte) string {
	if len(b) < 8 {
		return ""
	}
	switch {
	case binary.LittleEndian.Uint32(b) == sparseMagic:
		return "KDMV"
	case binary.LittleEndian.Uint32(b) == cowdMagic:
		return "COWD"
	case binary.LittleEndian.Uint64(b) == seMagic:
		return "seSparse"
	}
	return ""
}

// open opens p, named by from's field as ref, inside the resolver's root.
// A file named by several extents is opened once (a forged descriptor
// may name one file thousands of times).
func (l *Layer) open(p, from, field, ref string) (*os.File, int64, error) {
	if f, ok := l.opened[p]; ok {
		st, err := f.Stat()
		if err != nil {
			return nil, 0, fmt.Errorf("vmdk: %w", err)
		}
		return f, st.Size(), nil
	}
	var f *os.File
	var err error
	if l.r != nil {
		f, err = l.r.open(p, from, field, ref)
	} else {
		f, err = os.Open(p)
	}
	if err != nil {
		var esc *EscapeError
		if errors.As(err, &esc) {
			return nil, 0, err
		}
		return nil, 0, fmt.Errorf("vmdk: %w", err)
	}
	l.files = append(l.files, f)
	if l.opened == nil {
		l.opened = map[string]*os.File{}
	}
	l.opened[p] = f
	st, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("vmdk: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("vmdk: %s is not a regular file", p)
	}
	return f, st.Size(), nil
}

// openSelfContained reads a KDMV file opened directly: the file is its own
// single extent whatever its embedded extent line says (qemu does the
// same; libvmdk instead opens the file the line names, and fails on a
// renamed file).
func (l *Layer) openSelfContained(f *os.File, size int64) error {
	se, err := openSparse(l.Path, f, size)
	if err != nil {
		return err
	}
	l.Warnings = append(l.Warnings, se.warnings...)
	text, err := se.embeddedDescriptor()
	if err != nil {
		return err
	}
	sectors := int64(se.hdr.Capacity)
	line := ExtentLine{Access: AccessRW, Sectors: sectors, Type: ExtentSparse, FileName: filepath.Base(l.Path)}
	if text != nil {
		d, err := ParseDescriptor(l.Path+" (embedded descriptor)", text)
		if err != nil {
			return err
		}
		l.Descriptor, l.Embedded = d, true
		if d.Sectors() != sectors {
			l.Warnings = append(l.Warnings, fmt.Sprintf("%s: the embedded descriptor describes %d sectors but the header capacity is %d; reading the file as its header says",
				l.Path, d.Sectors(), sectors))
		}
		if len(d.Extents) == 1 {
			line.Access, line.Line = d.Extents[0].Access, d.Extents[0].Line
		}
	} else {
		l.Descriptor = &Descriptor{Version: 1, ParentCID: NoParentCID, CreateType: "monolithicSparse", Extents: []ExtentLine{line}}
		if se.hdr.Flags&flagCompressed != 0 {
			l.Descriptor.CreateType = "streamOptimized"
		}
	}
	l.extents = []layerExtent{{start: 0, size: sectors * SectorSize, line: line, path: l.Path, ext: se}}
	l.Size = sectors * SectorSize
	return nil
}

// openExtents opens every extent a text descriptor names, in order.
func (l *Layer) openExtents() error {
	dir := filepath.Dir(l.Path)
	var start int64
	for _, line := range l.Descriptor.Extents {
		ext, p, err := l.openExtent(dir, line)
		if err != nil {
			return err
		}
		size := line.Sectors * SectorSize
		l.extents = append(l.extents, layerExtent{start: start, size: size, line: line, path: p, ext: ext})
		start += size
	}
	l.Size = start
	return nil
}

func (l *Layer) openExtent(dir string, line ExtentLine) (extent, string, error) {
	where := fmt.Sprintf("%s line %d", l.Path, line.Line)
	field := fmt.Sprintf("extent line %d", line.Line)
	switch {
	case line.Access == AccessNOACCESS:
		return noAccessExtent{l.Path, line.Line}, "", nil
	case line.Type == ExtentZero:
		return zeroExtent{}, "", nil
	case line.Type == ExtentVMFSRDM || line.Type == ExtentVMFSRaw:
		return l.openDevice(dir, line)
	}
	p, tried, err := l.r.find(l.Path, field, dir, line.FileName)
	if err != nil {
		return nil, "", err
	}
	if p == "" {
		return nil, "", fmt.Errorf("vmdk: %s: extent file %q not found (looked for %v): collect it into the case folder", where, line.FileName, tried)
	}
	f, size, err := l.open(p, l.Path, field, line.FileName)
	if err != nil {
		return nil, "", err
	}
	want := line.Sectors * SectorSize
	switch line.Type {
	case ExtentFlat, ExtentVMFS:
		base := line.Offset * SectorSize
		if _, ok := addOK(base, want); !ok {
			return nil, "", fieldErrorf(l.Path, fmt.Sprintf("extent line %d offset", line.Line), "sector %d plus the extent's %d sectors lies beyond any file", line.Offset, line.Sectors)
		}
		if base+want > size {
			l.Warnings = append(l.Warnings, fmt.Sprintf("%s: %s is %d bytes but the extent needs %d: the file is truncated; reads past its end fail",
				where, p, size, base+want))
		}
		kind := "raw"
		if line.Type == ExtentVMFS {
			kind = "raw (VMFS)"
		}
		return &flatExtent{name: p, r: f, base: base, fileSize: size, kind: kind, holes: f}, p, nil
	}
	head := make([]byte, min(size, SectorSize))
	if err := readFull(f, p, head, 0); err != nil {
		return nil, "", err
	}
	magic := magicOf(head)
	var (
		ext      extent
		capacity int64
		warns    []string
	)
	switch {
	case magic == "KDMV" && (line.Type == ExtentSparse || line.Type == ExtentVMFSSparse):
		se, err := openSparse(p, f, size)
		if err != nil {
			return nil, "", err
		}
		ext, capacity, warns = se, se.capacity, se.warnings
	case magic == "COWD" && (line.Type == ExtentSparse || line.Type == ExtentVMFSSparse):
		ce, err := openCOWD(p, f, size)
		if err != nil {
			return nil, "", err
		}
		ext, capacity, warns = ce, ce.capacity, ce.warnings
	case magic == "seSparse" && line.Type == ExtentSESparse:
		ss, err := openSESparse(p, f, size)
		if err != nil {
			return nil, "", err
		}
		ext, capacity, warns = ss, ss.capacity, ss.warnings
	default:
		got := magic
		if got == "" {
			got = "no known magic"
		}
		return nil, "", corruptf("vmdk: %s: %s extent %s has %s; the descriptor and the file disagree", where, line.Type, p, got)
	}
	l.Warnings = append(l.Warnings, warns...)
	if capacity != want {
		l.Warnings = append(l.Warnings, fmt.Sprintf("%s: the extent line says %d sectors but %s's header says %d; bytes the header does not cover read as unallocated",
			where, line.Sectors, p, capacity/SectorSize))
	}
	return ext, p, nil
}

// openDevice resolves a VMFSRDM/VMFSRAW extent to a collected device
// image and reads it as raw data.
func (l *Layer) openDevice(dir string, line ExtentLine) (extent, string, error) {
	where := fmt.Sprintf("%s line %d", l.Path, line.Line)
	field := fmt.Sprintf("extent line %d", line.Line)
	mapping, _, err := l.r.find(l.Path, field, dir, line.FileName)
	if err != nil {
		return nil, "", err
	}
	if mapping == "" {
		mapping = filepath.Join(dir, filepath.Base(line.FileName))
	}
	want := line.Sectors * SectorSize
	var img string
	if o := l.r.o; o != nil && o.ResolveDevice != nil {
		p, err := o.ResolveDevice(DeviceRef{Descriptor: l.Path, CreateType: l.Descriptor.CreateType, Extent: line, MappingFile: mapping})
		if err != nil {
			return nil, "", fmt.Errorf("vmdk: %s: resolving raw device %q: %w", where, line.FileName, err)
		}
		if p != "" {
			l.r.trust(p)
		}
		img = p
	}
	if img == "" {
		if st, err := l.r.stat(mapping, l.Path, field, line.FileName); err == nil && st.Mode().IsRegular() && st.Size() >= want {
			img = mapping
		}
	}
	if img == "" {
		return nil, "", &classified{fmt.Sprintf("vmdk: %s: %s extent %q maps a raw device (LUN) of %d bytes whose image is not in the case: "+
			"collect the device and name its image (--rdm %s=IMAGE)", where, line.Type, line.FileName, want, line.FileName), ErrMissingDevice}
	}
	f, size, err := l.open(img, l.Path, field, line.FileName)
	if err != nil {
		return nil, "", err
	}
	if size < want {
		l.Warnings = append(l.Warnings, fmt.Sprintf("%s: device image %s is %d bytes but the extent needs %d: reads past its end fail", where, img, size, want))
	}
	l.Warnings = append(l.Warnings, fmt.Sprintf("%s: raw device %q read from the collected image %s", where, line.FileName, img))
	return &flatExtent{name: img, r: f, fileSize: size, kind: "raw device image", holes: f}, img, nil
}

// Close closes the layer's files.
func (l *Layer) Close() error {
	if l == nil {
		return nil
	}
	var errs []error
	for _, f := range l.files {
		errs = append(errs, f.Close())
	}
	l.files, l.opened = nil, nil
	return errors.Join(errs...)
}

// find returns the extent holding byte off (off < l.Size).
func (l *Layer) find(off int64) *layerExtent {
	i := sort.Search(len(l.extents), func(i int) bool { return l.extents[i].start+l.extents[i].size > off })
	return &l.extents[i]
}

// mapRun reports the state at off in this layer alone. Past the layer's
// end (a parent smaller than its child) the bytes read as zeros.
func (l *Layer) mapRun(off, n int64) (State, int64, error) {
	if off >= l.Size {
		return Zero, n, nil
	}
	e := l.find(off)
	n = min(n, e.start+e.size-off)
	return e.ext.mapRun(off-e.start, n)
}

// readData reads bytes the layer holds as Data.
func (l *Layer) readData(p []byte, off int64) error {
	for len(p) > 0 {
		e := l.find(off)
		n := min(int64(len(p)), e.start+e.size-off)
		if err := e.ext.readData(p[:n], off-e.start); err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

// Encrypted reports whether the layer's descriptor says the disk is
// encrypted.
func (l *Layer) Encrypted() bool { return l.Descriptor.Encrypted() }

var _ io.Closer = (*Layer)(nil)

// ReadDescriptorFile reads and parses the descriptor at path: a text
// descriptor file, or the descriptor embedded in a hosted sparse file.
// Extents are not opened.
func ReadDescriptorFile(path string) (*Descriptor, error) {
	l := &Layer{Path: path}
	defer l.Close()
	f, size, err := l.open(path, path, "the disk", path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, min(size, SectorSize))
	if err := readFull(f, path, head, 0); err != nil {
		return nil, err
	}
	switch magicOf(head) {
	case "KDMV":
		se, err := openSparse(path, f, size)
		if err != nil {
			return nil, err
		}
		text, err := se.embeddedDescriptor()
		if err != nil || text == nil {
			return nil, errors.Join(err, fmt.Errorf("vmdk: %s has no embedded descriptor", path))
		}
		return ParseDescriptor(path+" (embedded descriptor)", text)
	case "COWD", "seSparse":
		return nil, fmt.Errorf("vmdk: %s is a %s data file, not a descriptor", path, magicOf(head))
	}
	if !looksLikeText(head) {
		return nil, fmt.Errorf("vmdk: %s is not a descriptor (its first sector is binary data): if it is a flat extent (-flat.vmdk) or another data file, open the descriptor .vmdk that names it", path)
	}
	if size > MaxDescriptorSize {
		return nil, fmt.Errorf("vmdk: %s is %d bytes, too large for a descriptor", path, size)
	}
	text := make([]byte, size)
	if err := readFull(f, path, text, 0); err != nil {
		return nil, err
	}
	return ParseDescriptor(path, text)
}
