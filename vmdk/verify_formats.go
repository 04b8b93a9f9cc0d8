package vmdk

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// sectorsOf is how many sectors n bytes occupy.
func sectorsOf(n int64) int64 { return (n + SectorSize - 1) / SectorSize }

// rangeChecker returns a func that checks a metadata range lies in the
// file and claims it in spans. A range that leaves the file is reported
// and not claimed (the func returns false); overlaps are reported by
// reportOverlaps.
func (v *verifier) rangeChecker(name string, fileSize int64, spans *spanSet) func(what string, start, n int64) bool {
	return func(what string, start, n int64) bool {
		if start < 0 || n < 0 || start > fileSize/SectorSize || n > fileSize/SectorSize-start {
			v.add(SevError, name, "range", what, "sectors %d-%d run past the end of the file (%d sectors): the file is truncated or the pointer is damaged",
				start, start+n-1, sectorsOf(fileSize))
			return false
		}
		spans.meta(what, start, n)
		return true
	}
}

// reportOverlaps reports each claim that found its sectors taken.
func (v *verifier) reportOverlaps(name, where string, spans *spanSet) {
	found, total := spans.overlaps()
	// Only the first are described; the rest are counted for summarise.
	defer func() { v.counts[name+"\x00overlap"] += total - len(found) }()
	for _, o := range found {
		what := o.what
		if o.g < 0 {
			v.add(SevError, name, "overlap", what, "sector %d overlaps %s", o.sector, o.withWhat)
			continue
		}
		t, i := o.g/spans.gtEntries, o.g%spans.gtEntries
		v.add(SevError, name, "overlap", fmt.Sprintf("%s, grain table %d entry %d", where, t, i),
			"grain %d at sector %d overlaps %s", o.g, o.sector, o.withWhat)
	}
}

// sparse checks a hosted sparse extent.
func (v *verifier) sparse(e *sparseExtent, where string) error {
	h, name := e.hdr, e.name
	spans := newSpanSet(e.fileSize, e.gtEntries, maxFindingsPerKind+1)
	var starts []int64 // first sectors of referenced grains
	meta := v.rangeChecker(name, e.fileSize, spans)
	meta("the header", 0, 1)
	if e.footer {
		meta("the footer", sectorsOf(e.fileSize)-3, 3)
	}
	if h.DescriptorOffset > 0 && h.DescriptorSize > 0 {
		meta("the embedded descriptor", int64(h.DescriptorOffset), int64(h.DescriptorSize))
	}
	gdSectors := sectorsOf(int64(len(e.gd)) * 4)
	gtSectors := sectorsOf(e.gtEntries * 4)
	meta("the grain directory", int64(h.GDOffset), gdSectors)
	compressed := h.Flags&flagCompressed != 0
	if e.footer {
		v.marker(e, int64(h.GDOffset)-1, markerGD, gdSectors, "grain directory marker")
		spans.meta("the grain directory marker", int64(h.GDOffset)-1, 1)
	}
	var rgd []uint64
	if h.Flags&flagRedundantGD != 0 && h.RGDOffset != 0 && len(e.gd) > 0 {
		var err error
		rgd, err = readDirectory(e.r, name, e.fileSize, int64(h.RGDOffset)*SectorSize, int64(len(e.gd)), 4)
		if err != nil {
			v.add(SevError, name, "rgd", "redundant grain directory", "%v", err)
		} else {
			meta("the redundant grain directory", int64(h.RGDOffset), gdSectors)
		}
	}
	var scratch []byte
	for t, raw := range e.gd {
		if err := v.ctx.Err(); err != nil {
			return err
		}
		if rgd != nil && (raw == 0) != (rgd[t] == 0) {
			v.add(SevError, name, "rgd", fmt.Sprintf("%s, grain table %d", where, t), "the primary directory entry is %d but the redundant one is %d", raw, rgd[t])
		}
		if raw == 0 {
			continue
		}
		gtWhere := fmt.Sprintf("%s, grain table %d", where, t)
		if !meta(fmt.Sprintf("grain table %d", t), int64(raw), gtSectors) {
			continue // past the end: unreadable
		}
		if e.footer {
			v.marker(e, int64(raw)-1, markerGT, gtSectors, gtWhere+" marker")
			spans.meta(fmt.Sprintf("grain table %d marker", t), int64(raw)-1, 1)
		}
		tbl, err := e.table(int64(t))
		if err != nil {
			v.add(SevError, name, "table", gtWhere, "%v", err)
			continue
		}
		if rgd != nil && rgd[t] != 0 {
			v.redundantTable(e, t, tbl, int64(rgd[t]), gtWhere, meta)
		}
		for i, ent := range tbl {
			if ent == 0 {
				continue
			}
			g := int64(t)*e.gtEntries + int64(i)
			entWhere := func() string { return fmt.Sprintf("%s entry %d", gtWhere, i) }
			if g*e.grainBytes >= e.capacity {
				v.add(SevWarning, name, "beyond", entWhere(), "entry %d describes a grain past the capacity", ent)
				continue
			}
			st, fo, _ := e.decode(ent)
			if st != Data {
				continue
			}
			v.rep.GrainsChecked++
			if compressed {
				v.compressedGrain(e, g, fo, entWhere, spans, &scratch)
				starts = append(starts, fo/SectorSize)
				continue
			}
			s, need := fo/SectorSize, e.grainLen(g)
			switch {
			case fo+need > e.fileSize:
				v.add(SevError, name, "range", entWhere(), "grain %d at sector %d runs past the end of the file (%d sectors)", g, s, sectorsOf(e.fileSize))
			case s < int64(h.Overhead) && !e.footer:
				v.add(SevError, name, "overhead", entWhere(), "grain %d at sector %d lies in the metadata area (grains start at sector %d)", g, s, h.Overhead)
			default:
				spans.grain(g, s, sectorsOf(need))
			}
		}
	}
	v.reportOverlaps(name, where, spans)
	if h.Flags&flagMarkers != 0 {
		slices.Sort(starts)
		v.walkStream(e, where, starts)
	}
	return nil
}

// compressedGrain checks one compressed grain: its marker, its place in
// the file and that it inflates to the grain's length.
func (v *verifier) compressedGrain(e *sparseExtent, g, fo int64, where func() string, spans *spanSet, scratch *[]byte) {
	z := e.getInflater()
	comp, err := e.grainPayload(z, g, fo)
	e.putInflater(z)
	if err != nil {
		v.add(SevError, e.name, "grain", where(), "%v", err)
		return
	}
	sectors := sectorsOf(grainHeaderSize + int64(len(comp)))
	if e.hdr.Flags&flagMarkers == 0 {
		sectors = 1 // the payload's length is unknown without a header
	}
	spans.grain(g, fo/SectorSize, sectors)
	want := e.grainLen(g)
	if int64(cap(*scratch)) < want {
		*scratch = make([]byte, e.grainBytes)
	}
	if err := e.inflateGrain(g, fo, (*scratch)[:want]); err != nil {
		v.add(SevError, e.name, "grain", where(), "%v", err)
	}
}

// redundantTable compares a primary grain table with its redundant copy.
func (v *verifier) redundantTable(e *sparseExtent, t int, tbl []uint64, rsector int64, where string, meta func(string, int64, int64) bool) {
	if !meta(where+" (redundant copy)", rsector, sectorsOf(e.gtEntries*4)) {
		return
	}
	rt, err := readDirectory(e.r, e.name, e.fileSize, rsector*SectorSize, e.gtEntries, 4)
	if err != nil {
		v.add(SevError, e.name, "rgd", where+" (redundant copy)", "%v", err)
		return
	}
	diff, first := 0, -1
	for i := range tbl {
		if tbl[i] != rt[i] {
			if first < 0 {
				first = i
			}
			diff++
		}
	}
	if diff > 0 {
		v.add(SevError, e.name, "rgd", where, "the redundant copy differs in %d entries (first: entry %d, primary %d, redundant %d): the tables are out of sync",
			diff, first, tbl[first], rt[first])
	}
}

// marker checks that the sector at s is a metadata marker of type typ
// announcing n sectors.
func (v *verifier) marker(e *sparseExtent, s int64, typ uint32, n int64, what string) {
	var b [16]byte
	if s < 0 || (s+1)*SectorSize > e.fileSize {
		v.add(SevError, e.name, "marker", what, "sector %d is outside the file", s)
		return
	}
	if err := readFull(e.r, e.name, b[:], s*SectorSize); err != nil {
		v.add(SevError, e.name, "marker", what, "%v", err)
		return
	}
	le := binary.LittleEndian
	if le.Uint32(b[8:]) != 0 || le.Uint32(b[12:]) != typ || int64(le.Uint64(b[:])) != n {
		v.add(SevError, e.name, "marker", what, "sector %d holds (sectors %d, size %d, type %d), want a type %d marker for %d sectors",
			s, le.Uint64(b[:]), le.Uint32(b[8:]), le.Uint32(b[12:]), typ, n)
	}
}

// walkStream follows a streamOptimized file from the first grain to the
// end-of-stream marker, checking each marker and grain header, and
// reports grains that no grain table references.
func (v *verifier) walkStream(e *sparseExtent, where string, referenced []int64) {
	le := binary.LittleEndian
	end := sectorsOf(e.fileSize)
	var orphans, steps int64
	for s := int64(e.hdr.Overhead); s < end; steps++ {
		if steps%4096 == 0 && v.ctx.Err() != nil {
			return
		}
		if (s+1)*SectorSize > e.fileSize {
			v.add(SevError, e.name, "marker", where, "the stream ends inside sector %d without an end-of-stream marker", s)
			return
		}
		var b [16]byte
		if err := readFull(e.r, e.name, b[:], s*SectorSize); err != nil {
			v.add(SevError, e.name, "marker", where, "%v", err)
			return
		}
		val, size, typ := le.Uint64(b[:]), int64(le.Uint32(b[8:])), le.Uint32(b[12:])
		if size != 0 {
			if _, found := slices.BinarySearch(referenced, s); !found {
				orphans++
			}
			s += sectorsOf(grainHeaderSize + size)
			continue
		}
		switch typ {
		case markerEOS:
			if val != 0 {
				v.add(SevError, e.name, "marker", fmt.Sprintf("sector %d", s), "end-of-stream marker with a non-zero value %d", val)
			}
			if orphans > 0 {
				v.add(SevWarning, e.name, "orphan", where, "%d grains in the stream are not referenced by any grain table", orphans)
			}
			return
		case markerGT, markerGD, markerFooter, 4: // 4: progress, seen by dissect
			if val > uint64(end) {
				v.add(SevError, e.name, "marker", fmt.Sprintf("sector %d", s), "marker type %d announces %d sectors, past the end of the file", typ, val)
				return
			}
			s += 1 + int64(val)
		default:
			v.add(SevError, e.name, "marker", fmt.Sprintf("sector %d", s), "unknown marker type %d: the stream is damaged here", typ)
			return
		}
	}
	v.add(SevError, e.name, "marker", where, "the stream has no end-of-stream marker")
}

// cowd checks a COWD extent.
func (v *verifier) cowd(e *cowdExtent, where string) error {
	h, name := e.hdr, e.name
	grain := int64(h.GrainSize)
	spans := newSpanSet(e.fileSize, cowdGTEntries, maxFindingsPerKind+1)
	meta := v.rangeChecker(name, e.fileSize, spans)
	meta("the header", 0, cowdHeaderSize/SectorSize)
	meta("the grain directory", int64(h.GDOffset), sectorsOf(int64(len(e.gd))*4))
	gtSectors := int64(cowdGTEntries * 4 / SectorSize)
	fileSectors := sectorsOf(e.fileSize)
	for t, raw := range e.gd {
		if err := v.ctx.Err(); err != nil {
			return err
		}
		if raw == 0 {
			continue
		}
		gtWhere := fmt.Sprintf("%s, grain table %d", where, t)
		if !meta(fmt.Sprintf("grain table %d", t), int64(raw), gtSectors) {
			continue
		}
		if raw+uint64(gtSectors) > uint64(h.FreeSector) {
			v.add(SevWarning, name, "free", gtWhere, "the table at sector %d lies past the allocation mark (freeSector %d)", raw, h.FreeSector)
		}
		tbl, err := e.table(int64(t))
		if err != nil {
			v.add(SevError, name, "table", gtWhere, "%v", err)
			continue
		}
		for i, s := range tbl {
			if s == 0 {
				continue
			}
			g := int64(t)*cowdGTEntries + int64(i)
			if g*e.grainBytes >= e.capacity {
				v.add(SevWarning, name, "beyond", fmt.Sprintf("%s entry %d", gtWhere, i), "entry %d describes a grain past the capacity", s)
				continue
			}
			v.rep.GrainsChecked++
			switch {
			case int64(s)+grain > fileSectors:
				v.add(SevError, name, "range", fmt.Sprintf("%s entry %d", gtWhere, i), "grain %d at sector %d runs past the end of the file (%d sectors)", g, s, fileSectors)
			case s+uint64(grain) > uint64(h.FreeSector):
				v.add(SevWarning, name, "free", fmt.Sprintf("%s entry %d", gtWhere, i), "grain %d at sector %d lies past the allocation mark (freeSector %d)", g, s, h.FreeSector)
				spans.grain(g, int64(s), grain)
			default:
				spans.grain(g, int64(s), grain)
			}
		}
	}
	v.reportOverlaps(name, where, spans)
	return nil
}

// seSparse checks a seSparse extent: directory and table entries, table
// slots used twice, grain indexes used twice or past the end of the file,
// and counts unmapped grains (read as zeros, hiding the parent's data).
func (v *verifier) seSparse(e *seSparseExtent, where string) error {
	h, name := e.hdr, e.name
	fileSectors := uint64(sectorsOf(e.fileSize))
	var grainsInFile uint64
	if fileSectors > h.GrainsOff {
		grainsInFile = (fileSectors - h.GrainsOff + seGrainSectors - 1) / seGrainSectors
	}
	used := make([]uint64, (grainsInFile+63)/64)
	slots := map[uint64]int{}
	var unmapped, zero int64
	for t, raw := range e.gd {
		if err := v.ctx.Err(); err != nil {
			return err
		}
		if raw == 0 {
			continue
		}
		gtWhere := fmt.Sprintf("%s, grain table %d", where, t)
		if prev, dup := slots[raw]; dup {
			v.add(SevError, name, "overlap", gtWhere, "shares table slot %d with grain table %d", raw&0xffffffff, prev)
			continue
		}
		slots[raw] = t
		if slot := raw & 0xffffffff; raw&0xffffffff00000000 == seGDAllocated && slot >= h.GTSize/seGTSectors {
			v.add(SevWarning, name, "area", gtWhere, "table slot %d lies past the grain-table area the header declares (%d slots)", slot, h.GTSize/seGTSectors)
		}
		tbl, err := e.table(int64(t))
		if err != nil {
			v.add(SevError, name, "table", gtWhere, "%v", err)
			continue
		}
		for i, ent := range tbl {
			g := int64(t)*seGTEntries + int64(i)
			entWhere := fmt.Sprintf("%s entry %d", gtWhere, i)
			if ent == 0 {
				continue
			}
			if g*e.grainBytes >= e.capacity {
				v.add(SevWarning, name, "beyond", entWhere, "entry %#x describes a grain past the capacity", ent)
				continue
			}
			st, _, err := e.decode(ent)
			if err != nil {
				v.add(SevError, name, "entry", entWhere, "%v", err)
				continue
			}
			switch ent & seEntryMask {
			case seEntryUnmapped:
				unmapped++
			case seEntryZero:
				zero++
			}
			if st != Data {
				continue
			}
			v.rep.GrainsChecked++
			idx := seGrainIndex(ent)
			if idx >= h.GrainsSize/seGrainSectors {
				v.add(SevWarning, name, "area", entWhere, "grain index %d lies past the grain area the header declares (%d grains)", idx, h.GrainsSize/seGrainSectors)
			}
			if idx >= grainsInFile || (h.GrainsOff+idx*seGrainSectors+seGrainSectors)*SectorSize > uint64(e.fileSize) {
				v.add(SevError, name, "range", entWhere, "grain index %d lies past the end of the file", idx)
				continue
			}
			if used[idx/64]&(1<<(idx%64)) != 0 {
				v.add(SevError, name, "overlap", entWhere, "grain index %d is used by another entry too", idx)
			}
			used[idx/64] |= 1 << (idx % 64)
		}
	}
	if unmapped > 0 {
		v.add(SevInfo, name, "unmapped", where, "%d grains are SCSI-unmapped (type 0x1) and read as zeros, as qemu reads them; the parent's data there is hidden", unmapped)
	}
	if zero > 0 {
		v.add(SevInfo, name, "zero", where, "%d grains are zero grains (type 0x2)", zero)
	}
	return nil
}
