package vmdk

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// seSparse layout constants. VMware never published the format; these
// are the values qemu (which reads it) requires and ESXi writes.
const (
	seMagic          = 0xcafebabe
	seVolatileMagic  = 0xcafecafe
	seVersion        = 0x0000000200000001 // "2.1"
	seGrainSectors   = 8                  // 4 KiB grains
	seGTSectors      = 64                 // 4096 u64 entries per table
	seGTEntries      = seGTSectors * SectorSize / 8
	seGDAllocated    = 0x1000000000000000
	seEntryMask      = 0xf000000000000000
	seEntryUnmapped  = 0x1000000000000000
	seEntryZero      = 0x2000000000000000
	seEntryAllocated = 0x3000000000000000
)

// seHeader is the constant header: 26 u64 fields at sector 0.
type seHeader struct {
	Magic, Version, Capacity, GrainSize, GrainTableSize, Flags uint64
	Reserved                                                   [4]uint64
	VolatileOff, VolatileSize                                  uint64
	JournalHdrOff, JournalHdrSize                              uint64
	JournalOff, JournalSize                                    uint64
	GDOff, GDSize                                              uint64
	GTOff, GTSize                                              uint64
	BitmapOff, BitmapSize                                      uint64
	BackmapOff, BackmapSize                                    uint64
	GrainsOff, GrainsSize                                      uint64
}

func (h *seHeader) fields() []*uint64 {
	return []*uint64{&h.Magic, &h.Version, &h.Capacity, &h.GrainSize, &h.GrainTableSize, &h.Flags,
		&h.Reserved[0], &h.Reserved[1], &h.Reserved[2], &h.Reserved[3],
		&h.VolatileOff, &h.VolatileSize, &h.JournalHdrOff, &h.JournalHdrSize,
		&h.JournalOff, &h.JournalSize, &h.GDOff, &h.GDSize, &h.GTOff, &h.GTSize,
		&h.BitmapOff, &h.BitmapSize, &h.BackmapOff, &h.BackmapSize, &h.GrainsOff, &h.GrainsSize}
}

func parseSEHeader(b []byte) (seHeader, bool) {
	var h seHeader
	if len(b) < SectorSize {
		return h, false
	}
	for i, f := range h.fields() {
		*f = binary.LittleEndian.Uint64(b[i*8:])
	}
	return h, h.Magic == seMagic
}

func (h seHeader) marshal() []byte {
	b := make([]byte, SectorSize)
	for i, f := range h.fields() {
		binary.LittleEndian.PutUint64(b[i*8:], *f)
	}
	return b
}

// seVolatile is the volatile header (a sector at VolatileOff).
type seVolatile struct {
	Magic, FreeGTNumber, NextTxnSeq, ReplayJournal uint64
}

func (v seVolatile) marshal() []byte {
	b := make([]byte, SectorSize)
	le := binary.LittleEndian
	le.PutUint64(b, v.Magic)
	le.PutUint64(b[8:], v.FreeGTNumber)
	le.PutUint64(b[16:], v.NextTxnSeq)
	le.PutUint64(b[24:], v.ReplayJournal)
	return b
}

// seSparseExtent reads a seSparse delta.
type seSparseExtent struct {
	*grainMap
	hdr      seHeader
	vol      seVolatile
	warnings []string
}

// openSESparse checks the headers as strictly as qemu does (a file that
// fails is not one we understand) and refuses a dirty journal.
func openSESparse(name string, r io.ReaderAt, fileSize int64) (*seSparseExtent, error) {
	buf := make([]byte, SectorSize)
	if err := readFull(r, name, buf, 0); err != nil {
		return nil, err
	}
	h, ok := parseSEHeader(buf)
	if !ok {
		return nil, fmt.Errorf("vmdk: %s: not a seSparse file", name)
	}
	bad := func(what string, args ...any) error {
		return unsupportedf("vmdk: %s: seSparse header: "+what, append([]any{name}, args...)...)
	}
	switch {
	case h.Version != seVersion:
		return nil, bad("version %#x (only 2.1 is known)", h.Version)
	case h.GrainSize != seGrainSectors:
		return nil, bad("grain size %d sectors (only 8 is known)", h.GrainSize)
	case h.GrainTableSize != seGTSectors:
		return nil, bad("grain table size %d sectors (only 64 is known)", h.GrainTableSize)
	case h.Flags != 0:
		return nil, bad("flags %#x (only 0 is known)", h.Flags)
	case h.Reserved != [4]uint64{}:
		return nil, bad("reserved fields are not zero")
	case !allZero(buf[26*8:]):
		return nil, bad("padding is not zero")
	}
	if err := checkSEHeader(name, h, fileSize); err != nil {
		return nil, err
	}
	vb := make([]byte, SectorSize)
	if err := readFull(r, name, vb, int64(h.VolatileOff)*SectorSize); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	v := seVolatile{le.Uint64(vb), le.Uint64(vb[8:]), le.Uint64(vb[16:]), le.Uint64(vb[24:])}
	switch {
	case v.Magic != seVolatileMagic:
		return nil, corruptf("vmdk: %s: seSparse volatile header at sector %d has magic %#x, want 0xcafecafe", name, h.VolatileOff, v.Magic)
	case v.ReplayJournal != 0:
		return nil, &classified{fmt.Sprintf("vmdk: %s: the seSparse journal is dirty (replay_journal=%d, typically after a host crash): "+
			"its grain tables cannot be trusted until ESXi replays the journal, which esxsink cannot do. "+
			"Keep the files as collected; to read the disk, let ESXi open it (power on or consolidate) and collect again", name, v.ReplayJournal), ErrDirtyJournal}
	case !allZero(vb[32:]):
		return nil, bad("volatile header padding is not zero")
	}
	e := &seSparseExtent{hdr: h, vol: v}
	m := &grainMap{
		name: name, r: r, fileSize: fileSize,
		capacity:   int64(h.Capacity) * SectorSize,
		grainBytes: seGrainSectors * SectorSize, gtEntries: seGTEntries, entryWidth: 8,
		gtOffset: func(raw uint64) (int64, error) {
			if raw&0xffffffff00000000 != seGDAllocated {
				return 0, corruptf("directory entry %#x is neither 0 nor an allocated table (0x10000000 in the top half)", raw)
			}
			// A slot past the declared grain-table area is read if it is in
			// the file (as qemu does); Verify reports it. GTOff lies in
			// the file, so the sum cannot overflow before this check.
			s := h.GTOff + (raw&0xffffffff)*seGTSectors
			if s > maxSectors {
				return 0, corruptf("directory entry %#x puts its table at sector %d, beyond any file", raw, s)
			}
			return int64(s) * SectorSize, nil
		},
		decode: func(raw uint64) (State, int64, error) {
			switch raw & seEntryMask {
			case 0:
				if raw != 0 {
					return Unallocated, 0, corruptf("unallocated entry %#x has stray bits", raw)
				}
				return Unallocated, 0, nil
			case seEntryUnmapped, seEntryZero:
				// Unmapped reads as zeros, as qemu and xen-orchestra read
				// it; Verify counts these grains for the report.
				return Zero, 0, nil
			case seEntryAllocated:
				// An index past the declared grain area is read if it is in
				// the file (as qemu does); Verify reports it.
				idx := seGrainIndex(raw)
				if idx > (maxSectors-h.GrainsOff)/seGrainSectors {
					return Data, 0, corruptf("grain index %d puts the grain beyond any file", idx)
				}
				return Data, int64(h.GrainsOff+idx*seGrainSectors) * SectorSize, nil
			}
			return Unallocated, 0, corruptf("entry %#x has an unknown type", raw)
		},
	}
	need := gdEntriesFor(m.capacity, m.coverage())
	if need > int64(h.GDSize)*SectorSize/8 {
		return nil, corruptf("vmdk: %s: the grain directory holds %d entries but a capacity of %d sectors needs %d", name, h.GDSize*SectorSize/8, h.Capacity, need)
	}
	var err error
	if need > 0 {
		m.gd, err = readDirectory(r, name, fileSize, int64(h.GDOff)*SectorSize, need, 8)
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

// checkSEHeader bounds the seSparse header's sizes and offsets: the
// capacity by MaxCapacity, every region offset by the file (a region that
// starts past the end cannot be read), every size by maxSectors, so that
// no sum or product computed from them overflows.
func checkSEHeader(name string, h seHeader, fileSize int64) error {
	if err := checkCapacity(name, "seSparse header capacity", h.Capacity); err != nil {
		return err
	}
	fileSectors := uint64(sectorsOf(fileSize))
	for _, f := range []struct {
		field string
		v     uint64
	}{{"volatileHeaderOffset", h.VolatileOff}, {"grainDirOffset", h.GDOff}, {"grainTablesOffset", h.GTOff}, {"grainsOffset", h.GrainsOff}} {
		if f.v > fileSectors {
			return fieldErrorf(name, "seSparse header "+f.field, "sector %d is past the end of the file (%d sectors): the file is truncated or the header is damaged", f.v, fileSectors)
		}
	}
	for _, f := range []struct {
		field string
		v     uint64
	}{{"grainDirSize", h.GDSize}, {"grainTablesSize", h.GTSize}, {"grainsSize", h.GrainsSize}} {
		if f.v > maxSectors {
			return fieldErrorf(name, "seSparse header "+f.field, "%d sectors is beyond any file: the header is damaged or forged", f.v)
		}
	}
	return nil
}

// seGrainIndex undoes the rotation of an allocated entry: the low 12 bits
// of the index sit in bits 48-59, the rest in bits 0-47.
func seGrainIndex(raw uint64) uint64 {
	return (raw&0x0fff000000000000)>>48 | (raw&0x0000ffffffffffff)<<12
}

// seAllocatedEntry encodes grain index idx as an allocated entry.
func seAllocatedEntry(idx uint64) uint64 {
	return seEntryAllocated | (idx&0xfff)<<48 | idx>>12
}

func (e *seSparseExtent) format() string { return "seSparse, grain 4 KiB" }

// allZero reports whether b holds only zero bytes, comparing in blocks
// (memequal is vectorised; a byte loop is not).
func allZero(b []byte) bool {
	var z [4096]byte
	for len(b) > 0 {
		n := min(len(b), len(z))
		if !bytes.Equal(b[:n], z[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}
