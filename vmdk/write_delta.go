package vmdk

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// DeltaFormat selects a snapshot delta format.
type DeltaFormat string

// Snapshot delta formats ESXi writes.
const (
	VMFSSparse DeltaFormat = "vmfsSparse" // COWD; VMFS5 deltas of disks under 2 TB
	SESparse   DeltaFormat = "seSparse"   // VMFS6 deltas, and VMFS5 ones of 2 TB and more
)

// DeltaOptions describe a snapshot delta to create.
type DeltaOptions struct {
	Format  DeltaFormat
	Sectors int64 // the parent's size in sectors
	// ParentFileNameHint names the parent descriptor as ESXi writes it:
	// usually its base name.
	ParentFileNameHint string
	ParentCID          uint32
	// Parent is the parent disk's content, read for grains written in
	// part; nil reads zeros.
	Parent io.ReaderAt
	// CID of the delta once closed; 0 derives it from the writes (the
	// parent's CID when nothing was written, as ESXi leaves it).
	CID uint32
	// DDB holds extra ddb.* lines for the descriptor.
	DDB []KeyValue
}

// DeltaWriter is a snapshot delta being written: its extent (COWD or
// seSparse) and, on Close, its descriptor. This is the API the simulated
// ESXi host uses to record guest writes after a snapshot.
type DeltaWriter struct {
	ext      ExtentWriter
	gw       *grainWriter
	se       *SESparseWriter // nil for COWD
	descPath string
	desc     *Descriptor
	cid      uint32
	onClose  func() error // releases the parent opened for copy-on-write
	closed   bool
	// descWritten: the descriptor exists because an earlier Flush wrote it.
	descWritten bool
}

// DeltaExtentName returns the extent file name ESXi uses for a delta
// whose descriptor is descName: disk-000001.vmdk -> disk-000001-delta.vmdk
// (vmfsSparse) or disk-000001-sesparse.vmdk (seSparse).
func DeltaExtentName(descName string, f DeltaFormat) string {
	base := strings.TrimSuffix(filepath.Base(descName), ".vmdk")
	if f == SESparse {
		return base + "-sesparse.vmdk"
	}
	return base + "-delta.vmdk"
}

// CreateDelta creates a snapshot delta: the descriptor at descPath and
// its extent beside it, named by DeltaExtentName. Neither may exist.
func CreateDelta(descPath string, o DeltaOptions) (*DeltaWriter, error) {
	if o.ParentFileNameHint == "" {
		return nil, fmt.Errorf("vmdk: create delta %s: no parent file name", descPath)
	}
	if _, err := os.Lstat(descPath); err == nil {
		return nil, fmt.Errorf("vmdk: create delta: %s already exists", descPath)
	}
	name := DeltaExtentName(descPath, o.Format)
	extPath := filepath.Join(filepath.Dir(descPath), name)
	d := &Descriptor{Version: 1, Encoding: "UTF-8", ParentCID: o.ParentCID, IsNativeSnapshot: "no",
		CreateType: string(o.Format), ParentFileNameHint: o.ParentFileNameHint}
	w := &DeltaWriter{descPath: descPath, desc: d, cid: o.CID}
	switch o.Format {
	case VMFSSparse:
		c, err := CreateCOWD(extPath, o.Sectors, 1, o.Parent)
		if err != nil {
			return nil, err
		}
		w.ext, w.gw = c, c.grainWriter
		d.Extents = []ExtentLine{{Access: AccessRW, Sectors: o.Sectors, Type: ExtentVMFSSparse, FileName: name}}
	case SESparse:
		s, err := CreateSESparse(extPath, o.Sectors, o.Parent)
		if err != nil {
			return nil, err
		}
		w.ext, w.gw, w.se = s, s.grainWriter, s
		d.Extents = []ExtentLine{{Access: AccessRW, Sectors: o.Sectors, Type: ExtentSESparse, FileName: name}}
		d.DDB = append(d.DDB, KeyValue{Key: "ddb.encoding", Value: "UTF-8"}, KeyValue{Key: "ddb.grain", Value: "8"})
	default:
		return nil, fmt.Errorf("vmdk: create delta %s: unknown format %q (want %s or %s)", descPath, o.Format, VMFSSparse, SESparse)
	}
	d.DDB = append(d.DDB, o.DDB...)
	return w, nil
}

// CreateSnapshotDelta opens the disk at parentPath with its chain and
// creates a delta over it at descPath, as ESXi does when it takes a
// snapshot: same size, parentCID = the parent's CID, hint = the parent's
// path relative to the delta's folder. The parent stays open until Close.
func CreateSnapshotDelta(parentPath, descPath string, f DeltaFormat, o *Options) (*DeltaWriter, error) {
	parent, err := Open(parentPath, o)
	if err != nil {
		return nil, err
	}
	hint, err := filepath.Rel(filepath.Dir(descPath), parentPath)
	if err != nil {
		hint = parentPath
	}
	top := parent.Layers[0].Descriptor
	w, err := CreateDelta(descPath, DeltaOptions{Format: f, Sectors: parent.Size() / SectorSize,
		ParentFileNameHint: filepath.ToSlash(hint), ParentCID: top.CID, Parent: parent})
	if err != nil {
		parent.Close()
		return nil, err
	}
	w.desc.DDB = append(w.desc.DDB, longContentID(top)...)
	w.onClose = parent.Close
	return w, nil
}

// longContentID copies the parent's ddb.longContentID, which ESXi keeps
// along a chain.
func longContentID(d *Descriptor) []KeyValue {
	if v, ok := d.DDBValue("longContentID"); ok {
		return []KeyValue{{Key: "ddb.longContentID", Value: v}}
	}
	return nil
}

// WriteAt writes p at guest byte off.
func (w *DeltaWriter) WriteAt(p []byte, off int64) (int, error) { return w.ext.WriteAt(p, off) }

// WriteZeroes makes [off, off+n) read as zeros: zero grains in seSparse,
// written zeros in COWD (which has no zero grain).
func (w *DeltaWriter) WriteZeroes(off, n int64) error { return w.ext.WriteZeroes(off, n) }

// Unmap records a guest UNMAP/TRIM of [off, off+n): unmapped grains in
// seSparse; zeros in COWD.
func (w *DeltaWriter) Unmap(off, n int64) error {
	if w.se != nil {
		return w.se.Unmap(off, n)
	}
	return w.ext.WriteZeroes(off, n)
}

// Descriptor returns the delta's descriptor; its CID is final after Close.
func (w *DeltaWriter) Descriptor() *Descriptor { return w.desc }

// Flush writes the extent's metadata and the descriptor with the CID of
// what was written so far: the delta on disk is then complete and
// readable, and writing may continue (ESXi keeps a running VM's delta
// consistent the same way).
func (w *DeltaWriter) Flush() error {
	if w.closed {
		return fmt.Errorf("vmdk: %s: flush after close", w.descPath)
	}
	if err := w.ext.Flush(); err != nil {
		return err
	}
	return w.writeDescriptor()
}

func (w *DeltaWriter) writeDescriptor() error {
	w.desc.CID = w.cid
	if w.cid == 0 {
		w.desc.CID = w.gw.contentCID(w.desc.ParentCID)
	}
	w.desc.hasCID, w.desc.hasParentCID = true, true
	if !w.descWritten {
		w.descWritten = true
		return WriteDescriptor(w.descPath, w.desc)
	}
	// Our own descriptor from an earlier Flush: replace it whole, so a
	// reader never sees half of it.
	tmp := w.descPath + ".tmp"
	if err := os.WriteFile(tmp, w.desc.Marshal(), 0o644); err != nil {
		return fmt.Errorf("vmdk: write descriptor: %w", err)
	}
	if err := os.Rename(tmp, w.descPath); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("vmdk: write descriptor: %w", err)
	}
	return nil
}

// Close finishes the extent and writes the descriptor.
func (w *DeltaWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.ext.Close()
	if err == nil {
		err = w.writeDescriptor()
	}
	if w.onClose != nil {
		err = errors.Join(err, w.onClose())
	}
	return err
}

// FlatOptions describe a flat base disk to create.
type FlatOptions struct {
	// CreateType is "vmfs" (the ESXi base disk, the default) or
	// "monolithicFlat" (hosted).
	CreateType string
	CID        uint32 // 0 derives one from the size and writes
	DDB        []KeyValue
}

// FlatWriter is a flat base disk being written.
type FlatWriter struct {
	f        *os.File
	descPath string
	desc     *Descriptor
	sum      uint32
	closed   bool
}

// CreateFlat creates a base disk of size bytes (a multiple of 512): the
// descriptor at descPath and its raw extent <name>-flat.vmdk, initially
// all zeros (a sparse file). Neither may exist.
func CreateFlat(descPath string, size int64, o FlatOptions) (*FlatWriter, error) {
	if size <= 0 || size%SectorSize != 0 {
		return nil, fmt.Errorf("vmdk: create flat disk %s: size %d is not a positive multiple of 512", descPath, size)
	}
	if _, err := os.Lstat(descPath); err == nil {
		return nil, fmt.Errorf("vmdk: create flat disk: %s already exists", descPath)
	}
	ct, typ := "vmfs", ExtentVMFS
	if o.CreateType == "monolithicFlat" {
		ct, typ = "monolithicFlat", ExtentFlat
	} else if o.CreateType != "" && o.CreateType != "vmfs" {
		return nil, fmt.Errorf("vmdk: create flat disk: createType %q (want vmfs or monolithicFlat)", o.CreateType)
	}
	name := strings.TrimSuffix(filepath.Base(descPath), ".vmdk") + "-flat.vmdk"
	f, err := os.OpenFile(filepath.Join(filepath.Dir(descPath), name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("vmdk: create flat extent: %w", err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return nil, fmt.Errorf("vmdk: size flat extent: %w", err)
	}
	d := &Descriptor{Version: 1, Encoding: "UTF-8", CID: o.CID, ParentCID: NoParentCID, IsNativeSnapshot: "no", CreateType: ct,
		Extents: []ExtentLine{{Access: AccessRW, Sectors: size / SectorSize, Type: typ, FileName: name}}, DDB: o.DDB}
	return &FlatWriter{f: f, descPath: descPath, desc: d, sum: crc32.ChecksumIEEE([]byte(fmt.Sprint(size)))}, nil
}

// WriteAt writes p at byte off of the disk.
func (w *FlatWriter) WriteAt(p []byte, off int64) (int, error) {
	size := w.desc.Extents[0].Sectors * SectorSize
	if off < 0 || off > size || int64(len(p)) > size-off {
		return 0, fmt.Errorf("vmdk: %s: write of %d bytes at byte %d is outside the disk (%d bytes)", w.f.Name(), len(p), off, size)
	}
	w.sum = crc32.Update(w.sum, crc32.IEEETable, p)
	return w.f.WriteAt(p, off)
}

// Descriptor returns the disk's descriptor; its CID is final after Close.
func (w *FlatWriter) Descriptor() *Descriptor { return w.desc }

// Close closes the extent and writes the descriptor.
func (w *FlatWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.desc.CID == 0 {
		w.desc.CID = w.sum
		if w.desc.CID == NoParentCID {
			w.desc.CID ^= 1
		}
		w.desc.hasCID = true
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("vmdk: close %s: %w", w.f.Name(), err)
	}
	return WriteDescriptor(w.descPath, w.desc)
}
