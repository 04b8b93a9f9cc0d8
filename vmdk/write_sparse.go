package vmdk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// SparseOptions describe a monolithicSparse (hosted sparse) file.
type SparseOptions struct {
	GrainSectors int64 // 0 means 128 (64 KiB), VMware's and qemu's default
	// ZeroedGrain writes version 2 with zeroed-grain entries (GT entry 1),
	// which WriteZeroes uses for whole grains.
	ZeroedGrain bool
	CID         uint32 // 0 derives one from the writes
	// ParentFileNameHint, ParentCID and Parent make the file a hosted
	// child disk (as qemu-img create -b does); Parent supplies the bytes
	// of grains written in part.
	ParentFileNameHint string
	ParentCID          uint32
	Parent             io.ReaderAt
}

// SparseWriter writes a monolithicSparse file laid out as qemu and
// VMware Workstation do: header, embedded descriptor, redundant and
// primary grain directories with preallocated tables, then grains in
// write order.
type SparseWriter struct {
	*grainWriter
	hdr     sparseHeader
	desc    *Descriptor
	numGD   int64
	rgtBase int64 // sector of the first redundant table
	gtBase  int64 // sector of the first primary table
	gt      []uint32
	free    int64 // next free sector
	cid     uint32
}

const (
	sparseGTEs       = 512
	sparseDescSector = 1
	sparseDescSize   = 20 // sectors, as qemu writes
)

// CreateSparse creates a monolithicSparse file at path for a disk of size
// bytes (a multiple of 512). The file must not exist.
func CreateSparse(path string, size int64, o SparseOptions) (*SparseWriter, error) {
	grain := o.GrainSectors
	if grain == 0 {
		grain = 128
	}
	if size <= 0 || size%SectorSize != 0 || grain < 1 || grain > maxGrainSectors {
		return nil, fmt.Errorf("vmdk: create sparse %s: size %d (want a positive multiple of 512) or grain %d sectors is not possible", path, size, grain)
	}
	sectors := size / SectorSize
	numGD := gdEntriesFor(sectors, sparseGTEs*grain)
	gdSectors := (numGD*4 + SectorSize - 1) / SectorSize
	gtSectors := numGD * sparseGTEs * 4 / SectorSize
	rgd := int64(sparseDescSector + sparseDescSize)
	gd := rgd + gdSectors + gtSectors
	overhead := (gd + gdSectors + gtSectors + grain - 1) / grain * grain
	h := sparseHeader{Version: 1, Flags: flagValidNewline | flagRedundantGD, Capacity: uint64(sectors), GrainSize: uint64(grain),
		DescriptorOffset: sparseDescSector, DescriptorSize: sparseDescSize, NumGTEsPerGT: sparseGTEs,
		RGDOffset: uint64(rgd), GDOffset: uint64(gd), Overhead: uint64(overhead)}
	if o.ZeroedGrain {
		h.Version, h.Flags = 2, h.Flags|flagZeroedGTE
	}
	if (o.Parent != nil || o.ParentCID != 0) && o.ParentFileNameHint == "" {
		return nil, fmt.Errorf("vmdk: create sparse %s: a parent needs a ParentFileNameHint", path)
	}
	parentCID := uint32(NoParentCID)
	if o.ParentFileNameHint != "" {
		parentCID = o.ParentCID
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("vmdk: create sparse: %w", err)
	}
	w := &SparseWriter{hdr: h, numGD: numGD, rgtBase: rgd + gdSectors, gtBase: gd + gdSectors,
		gt: make([]uint32, numGD*sparseGTEs), free: overhead, cid: o.CID,
		desc: &Descriptor{Version: 1, ParentCID: parentCID, CreateType: "monolithicSparse", ParentFileNameHint: o.ParentFileNameHint,
			Extents: []ExtentLine{{Access: AccessRW, Sectors: sectors, Type: ExtentSparse, FileName: filepath.Base(path)}},
			DDB:     []KeyValue{{Key: "ddb.virtualHWVersion", Value: "4"}, {Key: "ddb.adapterType", Value: "lsilogic"}}},
	}
	w.grainWriter = newGrainWriter(f, grain*SectorSize, size, o.Parent, w)
	return w, nil
}

func (w *SparseWriter) state(g int64) (State, int64) {
	switch e := w.gt[g]; {
	case e == 0:
		return Unallocated, 0
	case e == 1 && w.hdr.Flags&flagZeroedGTE != 0:
		return Zero, 0
	default:
		return Data, int64(e) * SectorSize
	}
}

func (w *SparseWriter) allocate(g int64) (int64, error) {
	if w.free+int64(w.hdr.GrainSize) > 0xffffffff {
		return 0, fmt.Errorf("vmdk: %s: hosted sparse file would pass 2 TiB (32-bit sectors)", w.name)
	}
	s := w.free
	w.gt[g] = uint32(s)
	w.free += int64(w.hdr.GrainSize)
	return s * SectorSize, nil
}

func (w *SparseWriter) mark(g int64, unmapped bool) bool {
	if w.hdr.Flags&flagZeroedGTE == 0 {
		return false
	}
	w.gt[g] = 1
	return true
}

// Descriptor returns the embedded descriptor; its CID is final after
// Close.
func (w *SparseWriter) Descriptor() *Descriptor { return w.desc }

// Flush writes the metadata so the file is complete as it stands.
func (w *SparseWriter) Flush() error { return w.flushWith(w.finish) }

// Close writes the grain tables, directories, descriptor and header.
func (w *SparseWriter) Close() error { return w.closeWith(w.finish) }

func (w *SparseWriter) finish() error {
	if w.err != nil {
		return w.err
	}
	w.desc.CID = w.cid
	if w.cid == 0 {
		w.desc.CID = w.contentCID(w.desc.ParentCID)
		if w.desc.ParentFileNameHint == "" && w.ops == 0 {
			w.desc.CID = 0xfffffffe
		}
	}
	text := w.desc.Marshal()
	if len(text) > sparseDescSize*SectorSize {
		return fmt.Errorf("vmdk: %s: descriptor of %d bytes does not fit the %d reserved", w.name, len(text), sparseDescSize*SectorSize)
	}
	gtBytes := make([]byte, len(w.gt)*4)
	for i, e := range w.gt {
		binary.LittleEndian.PutUint32(gtBytes[i*4:], e)
	}
	dir := func(base int64) []byte {
		b := make([]byte, w.numGD*4)
		for i := int64(0); i < w.numGD; i++ {
			binary.LittleEndian.PutUint32(b[i*4:], uint32(base+i*sparseGTEs*4/SectorSize))
		}
		return b
	}
	return errors.Join(
		w.pwrite(gtBytes, w.rgtBase*SectorSize),
		w.pwrite(gtBytes, w.gtBase*SectorSize),
		w.pwrite(dir(w.rgtBase), int64(w.hdr.RGDOffset)*SectorSize),
		w.pwrite(dir(w.gtBase), int64(w.hdr.GDOffset)*SectorSize),
		w.pwrite(text, sparseDescSector*SectorSize),
		w.pwrite(w.hdr.marshal(), 0),
		w.f.Truncate(w.free*SectorSize),
	)
}
