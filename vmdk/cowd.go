package vmdk

import (
	"encoding/binary"
	"fmt"
	"io"
)

// COWD ("ESX sparse", vmfsSparse) layout constants.
const (
	cowdMagic        = 0x44574f43 // "COWD" little-endian
	cowdHeaderSize   = 2048
	cowdGTEntries    = 4096 // fixed by the format
	cowdUncleanOff   = 1648
	cowdGenerationAt = 1060
)

// cowdHeader holds the COWD header fields a reader uses.
type cowdHeader struct {
	Version         uint32
	Flags           uint32
	Capacity        uint32 // sectors
	GrainSize       uint32 // sectors; 1 on ESXi
	GDOffset        uint32 // sector
	NumGDEntries    uint32
	FreeSector      uint32 // allocation high-water mark
	Generation      uint32
	UncleanShutdown uint32
}

func parseCOWDHeader(b []byte) (cowdHeader, bool) {
	var h cowdHeader
	le := binary.LittleEndian
	if len(b) < cowdHeaderSize || le.Uint32(b) != cowdMagic {
		return h, false
	}
	h.Version = le.Uint32(b[4:])
	h.Flags = le.Uint32(b[8:])
	h.Capacity = le.Uint32(b[12:])
	h.GrainSize = le.Uint32(b[16:])
	h.GDOffset = le.Uint32(b[20:])
	h.NumGDEntries = le.Uint32(b[24:])
	h.FreeSector = le.Uint32(b[28:])
	h.Generation = le.Uint32(b[cowdGenerationAt:])
	h.UncleanShutdown = le.Uint32(b[cowdUncleanOff:])
	return h, true
}

func (h cowdHeader) marshal() []byte {
	b := make([]byte, cowdHeaderSize)
	le := binary.LittleEndian
	le.PutUint32(b, cowdMagic)
	le.PutUint32(b[4:], h.Version)
	le.PutUint32(b[8:], h.Flags)
	le.PutUint32(b[12:], h.Capacity)
	le.PutUint32(b[16:], h.GrainSize)
	le.PutUint32(b[20:], h.GDOffset)
	le.PutUint32(b[24:], h.NumGDEntries)
	le.PutUint32(b[28:], h.FreeSector)
	le.PutUint32(b[cowdGenerationAt:], h.Generation)
	le.PutUint32(b[cowdUncleanOff:], h.UncleanShutdown)
	return b
}

// cowdExtent reads a COWD delta. COWD has no zero-grain entry and no
// compression: an entry is 0 (ask the parent) or the grain's sector.
type cowdExtent struct {
	*grainMap
	hdr      cowdHeader
	warnings []string
}

func openCOWD(name string, r io.ReaderAt, fileSize int64) (*cowdExtent, error) {
	buf := make([]byte, cowdHeaderSize)
	if err := readFull(r, name, buf, 0); err != nil {
		return nil, err
	}
	h, ok := parseCOWDHeader(buf)
	if !ok {
		return nil, fmt.Errorf("vmdk: %s: not a COWD (vmfsSparse) file", name)
	}
	e := &cowdExtent{hdr: h}
	if h.Version != 1 {
		e.warnings = append(e.warnings, fmt.Sprintf("%s: COWD version %d (only 1 has been seen)", name, h.Version))
	}
	if h.UncleanShutdown != 0 {
		e.warnings = append(e.warnings, fmt.Sprintf("%s: the unclean-shutdown flag is set: the grain tables may not match the data", name))
	}
	if h.GrainSize == 0 || h.GrainSize > maxGrainSectors {
		return nil, corruptf("vmdk: %s: grain size %d sectors (want 1 to %d; ESXi writes 1)", name, h.GrainSize, maxGrainSectors)
	}
	if err := checkCapacity(name, "COWD header capacity", uint64(h.Capacity)); err != nil {
		return nil, err
	}
	m := &grainMap{
		name: name, r: r, fileSize: fileSize,
		capacity:   int64(h.Capacity) * SectorSize,
		grainBytes: int64(h.GrainSize) * SectorSize, gtEntries: cowdGTEntries, entryWidth: 4,
		gtOffset: func(raw uint64) (int64, error) { return int64(raw) * SectorSize, nil },
		decode: func(raw uint64) (State, int64, error) {
			if raw == 0 {
				return Unallocated, 0, nil
			}
			return Data, int64(raw) * SectorSize, nil
		},
	}
	need := gdEntriesFor(m.capacity, m.coverage())
	if int64(h.NumGDEntries) < need {
		return nil, corruptf("vmdk: %s: the grain directory has %d entries but a capacity of %d sectors needs %d", name, h.NumGDEntries, h.Capacity, need)
	}
	var err error
	if need > 0 {
		m.gd, err = readDirectory(r, name, fileSize, int64(h.GDOffset)*SectorSize, need, 4)
		if err != nil {
			return nil, err
		}
	}
	if err := m.checkSharedTables(); err != nil {
		return nil, err
	}
	e.grainMap = m
	return e, nil
}

func (e *cowdExtent) format() string {
	return fmt.Sprintf("COWD (vmfsSparse), grain %s", sizeString(e.grainBytes))
}
