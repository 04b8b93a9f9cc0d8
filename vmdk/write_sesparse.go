package vmdk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// SESparseWriter writes a seSparse delta extent. Grain tables take slots
// in the grain-table area and grains take indexes in the grain area in
// write order (as ESXi does), so the slots are not in directory order
// once writes arrive out of order. The journal, free bitmap and backmap
// regions are reserved but left zero: their formats are not public, and
// readers (qemu included) ignore them. The output depends only on the
// sequence of calls.
type SESparseWriter struct {
	*grainWriter
	hdr   seHeader
	slot  map[int64]uint64   // table index -> slot
	gts   map[int64][]uint64 // table index -> entries
	order []int64            // table indexes in slot order
	next  uint64             // next grain index
}

// seRegion is the size, in sectors, of each fixed metadata region, as in
// ESXi-written files.
const seRegion = 2048

// CreateSESparse creates a seSparse extent at path for a disk of sectors
// sectors. parent supplies the bytes of a grain written in part (nil
// reads zeros). The file must not exist.
func CreateSESparse(path string, sectors int64, parent io.ReaderAt) (*SESparseWriter, error) {
	if sectors <= 0 || sectors > maxSectors {
		return nil, fmt.Errorf("vmdk: seSparse extent of %d sectors is not possible", sectors)
	}
	tables := uint64(gdEntriesFor(sectors, seGTEntries*seGrainSectors))
	roundUp := func(n uint64) uint64 { return max(seRegion, (n+seRegion-1)/seRegion*seRegion) }
	gdSize := roundUp((tables*8 + SectorSize - 1) / SectorSize)
	gtSize := roundUp(tables * seGTSectors)
	h := seHeader{
		Magic: seMagic, Version: seVersion, Capacity: uint64(sectors),
		GrainSize: seGrainSectors, GrainTableSize: seGTSectors,
		VolatileOff: 1, VolatileSize: 1,
		JournalHdrOff: 2, JournalHdrSize: 2,
		JournalOff: seRegion, JournalSize: seRegion,
		GDOff: 2 * seRegion, GDSize: gdSize,
	}
	h.GTOff, h.GTSize = h.GDOff+gdSize, gtSize
	h.BitmapOff, h.BitmapSize = h.GTOff+gtSize, seRegion
	h.BackmapOff, h.BackmapSize = h.BitmapOff+seRegion, seRegion
	h.GrainsOff = h.BackmapOff + seRegion
	h.GrainsSize = (uint64(sectors) + seGrainSectors - 1) / seGrainSectors * seGrainSectors
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("vmdk: create seSparse extent: %w", err)
	}
	w := &SESparseWriter{hdr: h, slot: map[int64]uint64{}, gts: map[int64][]uint64{}}
	w.grainWriter = newGrainWriter(f, seGrainSectors*SectorSize, sectors*SectorSize, parent, w)
	return w, nil
}

func (w *SESparseWriter) entry(g int64) uint64 {
	if gt := w.gts[g/seGTEntries]; gt != nil {
		return gt[g%seGTEntries]
	}
	return 0
}

func (w *SESparseWriter) state(g int64) (State, int64) {
	e := w.entry(g)
	switch e & seEntryMask {
	case seEntryAllocated:
		return Data, int64(w.hdr.GrainsOff+seGrainIndex(e)*seGrainSectors) * SectorSize
	case seEntryZero, seEntryUnmapped:
		return Zero, 0
	}
	return Unallocated, 0
}

func (w *SESparseWriter) table(g int64) []uint64 {
	t := g / seGTEntries
	gt := w.gts[t]
	if gt == nil {
		gt = make([]uint64, seGTEntries)
		w.gts[t], w.slot[t] = gt, uint64(len(w.order))
		w.order = append(w.order, t)
	}
	return gt
}

func (w *SESparseWriter) allocate(g int64) (int64, error) {
	if w.next >= w.hdr.GrainsSize/seGrainSectors {
		return 0, fmt.Errorf("vmdk: %s: the grain area is full", w.name)
	}
	idx := w.next
	w.next++
	w.table(g)[g%seGTEntries] = seAllocatedEntry(idx)
	return int64(w.hdr.GrainsOff+idx*seGrainSectors) * SectorSize, nil
}

func (w *SESparseWriter) mark(g int64, unmapped bool) bool {
	e := uint64(seEntryZero)
	if unmapped {
		e = seEntryUnmapped
	}
	w.table(g)[g%seGTEntries] = e
	return true
}

// Unmap records [off, off+n) as SCSI-unmapped (guest TRIM): whole grains
// get the unmapped entry, which reads as zeros; partial grains get zeros.
func (w *SESparseWriter) Unmap(off, n int64) error { return w.zero(off, n, true) }

// Flush writes the metadata so the file is complete as it stands.
func (w *SESparseWriter) Flush() error { return w.flushWith(w.finish) }

// Close writes the grain tables, the directory and both headers.
func (w *SESparseWriter) Close() error { return w.closeWith(w.finish) }

func (w *SESparseWriter) finish() error {
	if w.err != nil {
		return w.err
	}
	h := w.hdr
	gd := make([]byte, h.GDSize*SectorSize)
	buf := make([]byte, seGTEntries*8)
	for _, t := range w.order {
		for i, e := range w.gts[t] {
			binary.LittleEndian.PutUint64(buf[i*8:], e)
		}
		s := w.slot[t]
		binary.LittleEndian.PutUint64(gd[t*8:], seGDAllocated|s)
		if err := w.pwrite(buf, int64(h.GTOff+s*seGTSectors)*SectorSize); err != nil {
			return err
		}
	}
	vol := seVolatile{Magic: seVolatileMagic, FreeGTNumber: uint64(len(w.order)), NextTxnSeq: uint64(w.ops)}
	end := int64(h.GrainsOff+w.next*seGrainSectors) * SectorSize
	return errors.Join(
		w.pwrite(gd, int64(h.GDOff)*SectorSize),
		w.pwrite(vol.marshal(), int64(h.VolatileOff)*SectorSize),
		w.pwrite(h.marshal(), 0),
		w.f.Truncate(end),
	)
}
