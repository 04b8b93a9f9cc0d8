package vmdk

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// Hosted sparse ("KDMV") header flags.
const (
	flagValidNewline = 1 << 0  // the newline check bytes are meaningful
	flagRedundantGD  = 1 << 1  // a redundant GD/GT copy is kept at rgdOffset
	flagZeroedGTE    = 1 << 2  // GT entry 1 means "zero grain"
	flagCompressed   = 1 << 16 // grains are compressed
	flagMarkers      = 1 << 17 // markers present; grains carry their LBA
	knownIncompat    = flagCompressed | flagMarkers
)

const (
	sparseMagic  = 0x564d444b // "KDMV" little-endian
	gdAtEnd      = ^uint64(0) // streamOptimized: the real GD is in the footer
	newlineCheck = "\n \r\n"
)

// sparseHeader is the 512-byte hosted sparse header (and footer).
type sparseHeader struct {
	Version           uint32
	Flags             uint32
	Capacity          uint64 // sectors
	GrainSize         uint64 // sectors
	DescriptorOffset  uint64 // sector
	DescriptorSize    uint64 // sectors
	NumGTEsPerGT      uint32
	RGDOffset         uint64 // sector
	GDOffset          uint64 // sector, or gdAtEnd
	Overhead          uint64 // sectors
	UncleanShutdown   uint8
	Check             [4]byte
	CompressAlgorithm uint16
}

func parseSparseHeader(b []byte) (sparseHeader, bool) {
	var h sparseHeader
	if len(b) < SectorSize || binary.LittleEndian.Uint32(b) != sparseMagic {
		return h, false
	}
	le := binary.LittleEndian
	h.Version = le.Uint32(b[4:])
	h.Flags = le.Uint32(b[8:])
	h.Capacity = le.Uint64(b[12:])
	h.GrainSize = le.Uint64(b[20:])
	h.DescriptorOffset = le.Uint64(b[28:])
	h.DescriptorSize = le.Uint64(b[36:])
	h.NumGTEsPerGT = le.Uint32(b[44:])
	h.RGDOffset = le.Uint64(b[48:])
	h.GDOffset = le.Uint64(b[56:])
	h.Overhead = le.Uint64(b[64:])
	h.UncleanShutdown = b[72]
	copy(h.Check[:], b[73:77])
	h.CompressAlgorithm = le.Uint16(b[77:])
	return h, true
}

func (h sparseHeader) marshal() []byte {
	b := make([]byte, SectorSize)
	le := binary.LittleEndian
	le.PutUint32(b, sparseMagic)
	le.PutUint32(b[4:], h.Version)
	le.PutUint32(b[8:], h.Flags)
	le.PutUint64(b[12:], h.Capacity)
	le.PutUint64(b[20:], h.GrainSize)
	le.PutUint64(b[28:], h.DescriptorOffset)
	le.PutUint64(b[36:], h.DescriptorSize)
	le.PutUint32(b[44:], h.NumGTEsPerGT)
	le.PutUint64(b[48:], h.RGDOffset)
	le.PutUint64(b[56:], h.GDOffset)
	le.PutUint64(b[64:], h.Overhead)
	b[72] = h.UncleanShutdown
	copy(b[73:77], newlineCheck)
	le.PutUint16(b[77:], h.CompressAlgorithm)
	return b
}

// check validates the fields every reader depends on.
func (h sparseHeader) check(name string) error {
	switch {
	case h.Version < 1 || h.Version > 3:
		return unsupportedf("vmdk: %s: hosted sparse version %d (known: 1 to 3)", name, h.Version)
	case h.Flags&0xffff0000&^knownIncompat != 0:
		return unsupportedf("vmdk: %s: unknown incompatible flags %#x; refusing to guess their meaning", name, h.Flags&0xffff0000&^knownIncompat)
	case h.GrainSize == 0 || h.GrainSize > maxGrainSectors:
		return corruptf("vmdk: %s: grain size %d sectors (want 1 to %d)", name, h.GrainSize, maxGrainSectors)
	case h.Flags&flagCompressed != 0 && h.GrainSize > maxCompressedGrain:
		return unsupportedf("vmdk: %s: compressed grains of %d sectors are larger than this reader accepts (%d)", name, h.GrainSize, maxCompressedGrain)
	case h.Flags&flagCompressed != 0 && h.CompressAlgorithm != 1:
		return unsupportedf("vmdk: %s: compression algorithm %d (only 1, deflate, is known)", name, h.CompressAlgorithm)
	case h.NumGTEsPerGT == 0 || h.NumGTEsPerGT > maxGTEsPerGT:
		return corruptf("vmdk: %s: %d entries per grain table (want 1 to %d; VMware writes 512)", name, h.NumGTEsPerGT, maxGTEsPerGT)
	}
	if err := checkCapacity(name, "hosted sparse header capacity", h.Capacity); err != nil {
		return err
	}
	// Every other sector field is multiplied by SectorSize somewhere:
	// keep each product, and the sum of two, inside an int64.
	for _, f := range []struct {
		field string
		v     uint64
	}{{"descriptorOffset", h.DescriptorOffset}, {"descriptorSize", h.DescriptorSize}, {"rgdOffset", h.RGDOffset},
		{"gdOffset", h.GDOffset}, {"overHead", h.Overhead}} {
		if f.v > maxSectors {
			return fieldErrorf(name, "hosted sparse header "+f.field, "sector %d is beyond any file: the header is damaged or forged", f.v)
		}
	}
	return nil
}

// sparseExtent reads a hosted sparse extent: monolithicSparse,
// twoGbMaxExtentSparse pieces and both streamOptimized layouts.
type sparseExtent struct {
	*grainMap
	hdr      sparseHeader // the header in force (the footer for GD_AT_END)
	primary  sparseHeader // the header at offset 0
	footer   bool         // VMware stream layout: header came from the footer
	warnings []string

	zmu   sync.Mutex
	zpool []*inflater // idle inflaters; bounded by the number of readers
	gmu   sync.Mutex
	last  cachedGrain // most recently inflated grain, for partial reads
}

type cachedGrain struct {
	g    int64
	data []byte
}

// openSparse opens a KDMV extent from r.
func openSparse(name string, r io.ReaderAt, fileSize int64) (*sparseExtent, error) {
	buf := make([]byte, SectorSize)
	if err := readFull(r, name, buf, 0); err != nil {
		return nil, err
	}
	h, ok := parseSparseHeader(buf)
	if !ok {
		return nil, fmt.Errorf("vmdk: %s: not a hosted sparse (KDMV) file", name)
	}
	e := &sparseExtent{hdr: h, primary: h}
	if h.GDOffset == gdAtEnd {
		f, err := readFooter(r, name, fileSize)
		if err != nil {
			return nil, err
		}
		e.hdr, e.footer = f, true
		h = f
	}
	if err := h.check(name); err != nil {
		return nil, err
	}
	if h.Flags&flagValidNewline != 0 && string(h.Check[:]) != newlineCheck {
		e.warnings = append(e.warnings, fmt.Sprintf("%s: the newline check bytes are damaged: the file went through a text-mode (CRLF) transfer and its data is likely corrupt", name))
	}
	if e.primary.UncleanShutdown != 0 {
		e.warnings = append(e.warnings, fmt.Sprintf("%s: the unclean-shutdown flag is set: the grain tables may not match the data", name))
	}
	gb := int64(h.GrainSize) * SectorSize
	m := &grainMap{
		name: name, r: r, fileSize: fileSize,
		capacity:   int64(h.Capacity) * SectorSize,
		grainBytes: gb, gtEntries: int64(h.NumGTEsPerGT), entryWidth: 4,
		gtOffset: func(raw uint64) (int64, error) { return int64(raw) * SectorSize, nil },
	}
	zeroed := h.Flags&flagZeroedGTE != 0
	m.decode = func(raw uint64) (State, int64, error) {
		switch {
		case raw == 0:
			return Unallocated, 0, nil
		case raw == 1 && zeroed:
			return Zero, 0, nil
		}
		return Data, int64(raw) * SectorSize, nil
	}
	n := gdEntriesFor(m.capacity, m.coverage())
	var err error
	if n > 0 {
		m.gd, err = readDirectory(r, name, fileSize, int64(h.GDOffset)*SectorSize, n, 4)
		if err != nil {
			return nil, err
		}
	}
	if err := m.checkSharedTables(); err != nil {
		return nil, err
	}
	if h.Flags&flagCompressed != 0 {
		m.readCompressed = e.readCompressed
	}
	e.grainMap = m
	return e, nil
}

// readFooter reads the VMware stream trailer: a footer marker, the footer
// (a copy of the header with the real gdOffset) and an end-of-stream
// marker in the last three sectors.
func readFooter(r io.ReaderAt, name string, fileSize int64) (sparseHeader, error) {
	if fileSize < 4*SectorSize {
		return sparseHeader{}, corruptf("vmdk: %s: gdOffset says the grain directory is at the end, but the file (%d bytes) is too short to hold a footer: the stream is truncated", name, fileSize)
	}
	b := make([]byte, 3*SectorSize)
	if err := readFull(r, name, b, fileSize-3*SectorSize); err != nil {
		return sparseHeader{}, err
	}
	le := binary.LittleEndian
	mk, eos := b[:SectorSize], b[2*SectorSize:]
	f, ok := parseSparseHeader(b[SectorSize:])
	switch {
	case le.Uint32(mk[8:]) != 0 || le.Uint32(mk[12:]) != markerFooter:
		return f, corruptf("vmdk: %s: gdOffset says the grain directory is at the end, but there is no footer marker at byte %d: the stream is truncated or incomplete", name, fileSize-3*SectorSize)
	case !ok:
		return f, corruptf("vmdk: %s: the footer at byte %d has no KDMV magic: the stream is truncated or damaged", name, fileSize-2*SectorSize)
	case le.Uint64(eos) != 0 || le.Uint32(eos[8:]) != 0 || le.Uint32(eos[12:]) != markerEOS:
		return f, corruptf("vmdk: %s: no end-of-stream marker in the last sector: the stream is truncated or damaged", name)
	case f.GDOffset == gdAtEnd:
		return f, corruptf("vmdk: %s: the footer also says the grain directory is at the end", name)
	}
	return f, nil
}

// embeddedDescriptor returns the descriptor text stored in the file, nil
// when there is none.
func (e *sparseExtent) embeddedDescriptor() ([]byte, error) {
	h := e.hdr
	if h.DescriptorOffset == 0 || h.DescriptorSize == 0 {
		return nil, nil
	}
	if h.DescriptorSize > MaxDescriptorSize/SectorSize || h.DescriptorOffset > maxSectors {
		return nil, corruptf("vmdk: %s: embedded descriptor of %d sectors at sector %d is not plausible", e.name, h.DescriptorSize, h.DescriptorOffset)
	}
	off, size := int64(h.DescriptorOffset)*SectorSize, int64(h.DescriptorSize)*SectorSize
	if off > e.fileSize || size > e.fileSize-off {
		return nil, corruptf("vmdk: %s: embedded descriptor (%d bytes at byte %d) runs past the end of the file", e.name, size, off)
	}
	b := make([]byte, size)
	if err := readFull(e.r, e.name, b, off); err != nil {
		return nil, err
	}
	return b, nil
}

func (e *sparseExtent) format() string {
	h := e.hdr
	grain := int64(h.GrainSize) * SectorSize
	switch {
	case e.footer:
		return fmt.Sprintf("streamOptimized, VMware layout (footer, markers), v%d, grain %s", h.Version, sizeString(grain))
	case h.Flags&flagCompressed != 0:
		return fmt.Sprintf("streamOptimized, grain directory at the front, v%d, grain %s", h.Version, sizeString(grain))
	}
	s := fmt.Sprintf("hosted sparse v%d, grain %s", h.Version, sizeString(grain))
	if h.Flags&flagZeroedGTE != 0 {
		s += ", zeroed-grain entries"
	}
	return s
}
