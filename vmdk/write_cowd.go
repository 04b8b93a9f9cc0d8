package vmdk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// COWDWriter writes a COWD (vmfsSparse) delta extent the way ESXi lays
// it out: header, preallocated grain directory, then grain tables and
// grains allocated on demand in write order. The output depends only on
// the sequence of calls.
type COWDWriter struct {
	*grainWriter
	hdr    cowdHeader
	gtSect map[int64]uint32   // table index -> sector
	gts    map[int64][]uint32 // table index -> entries (sectors)
	free   uint32             // next free sector
}

// CreateCOWD creates a COWD extent at path for a disk of sectors sectors,
// with grains of grainSectors (ESXi uses 1; 0 means 1). parent supplies
// the bytes of a grain written in part (nil reads zeros). The file must
// not exist.
func CreateCOWD(path string, sectors, grainSectors int64, parent io.ReaderAt) (*COWDWriter, error) {
	if grainSectors == 0 {
		grainSectors = 1
	}
	if sectors <= 0 || sectors > 0xffffffff || grainSectors < 1 || grainSectors > maxGrainSectors {
		return nil, fmt.Errorf("vmdk: COWD extent of %d sectors with %d-sector grains is not possible (32-bit sector numbers)", sectors, grainSectors)
	}
	numGD := gdEntriesFor(sectors, cowdGTEntries*grainSectors)
	gdSectors := (numGD*4 + SectorSize - 1) / SectorSize
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("vmdk: create COWD extent: %w", err)
	}
	w := &COWDWriter{
		hdr: cowdHeader{Version: 1, Flags: 3, Capacity: uint32(sectors), GrainSize: uint32(grainSectors),
			GDOffset: 4, NumGDEntries: uint32(numGD)},
		gtSect: map[int64]uint32{}, gts: map[int64][]uint32{},
		free: uint32(4 + gdSectors),
	}
	w.grainWriter = newGrainWriter(f, grainSectors*SectorSize, sectors*SectorSize, parent, w)
	return w, nil
}

func (w *COWDWriter) state(g int64) (State, int64) {
	if gt := w.gts[g/cowdGTEntries]; gt != nil {
		if s := gt[g%cowdGTEntries]; s != 0 {
			return Data, int64(s) * SectorSize
		}
	}
	return Unallocated, 0
}

func (w *COWDWriter) allocate(g int64) (int64, error) {
	t := g / cowdGTEntries
	gt := w.gts[t]
	grain := int64(w.hdr.GrainSize)
	need := grain
	if gt == nil {
		need += cowdGTEntries * 4 / SectorSize
	}
	if int64(w.free)+need > 0xffffffff {
		return 0, fmt.Errorf("vmdk: %s: COWD file would pass 2 TiB (32-bit sectors)", w.name)
	}
	if gt == nil {
		gt = make([]uint32, cowdGTEntries)
		w.gts[t], w.gtSect[t] = gt, w.free
		w.free += cowdGTEntries * 4 / SectorSize
	}
	s := w.free
	gt[g%cowdGTEntries] = s
	w.free += uint32(grain)
	return int64(s) * SectorSize, nil
}

// mark: COWD has no zero grain; zeros are written as data.
func (w *COWDWriter) mark(g int64, unmapped bool) bool { return false }

// Flush writes the metadata so the file is complete as it stands.
func (w *COWDWriter) Flush() error { return w.flushWith(w.finish) }

// Close writes the grain tables, the directory and the header.
func (w *COWDWriter) Close() error { return w.closeWith(w.finish) }

func (w *COWDWriter) finish() error {
	if w.err != nil {
		return w.err
	}
	gd := make([]byte, int64(w.hdr.NumGDEntries)*4)
	tables := make([]int64, 0, len(w.gts))
	for t := range w.gts {
		tables = append(tables, t)
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i] < tables[j] })
	buf := make([]byte, cowdGTEntries*4)
	for _, t := range tables {
		for i, s := range w.gts[t] {
			binary.LittleEndian.PutUint32(buf[i*4:], s)
		}
		binary.LittleEndian.PutUint32(gd[t*4:], w.gtSect[t])
		if err := w.pwrite(buf, int64(w.gtSect[t])*SectorSize); err != nil {
			return err
		}
	}
	w.hdr.FreeSector = w.free
	return errors.Join(
		w.pwrite(gd, int64(w.hdr.GDOffset)*SectorSize),
		w.pwrite(w.hdr.marshal(), 0),
		w.f.Truncate(int64(w.free)*SectorSize),
	)
}
