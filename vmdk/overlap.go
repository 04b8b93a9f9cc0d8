package vmdk

import (
	"fmt"
	"slices"
)

// spanSet collects the file ranges a sparse extent's structures claim
// (metadata and grains) and finds overlaps by sorting them, in
// O(n log n) of the ranges claimed: a bitmap walk costs the length of
// every range, which a forged table of huge overlapping grains turns
// quadratic. Consecutive grains stored back to back are merged into one
// span as they arrive, so a well-formed file costs a few spans per table.
type spanSet struct {
	spans        []span
	labels       []string
	grainSectors int64 // fixed grain size; 0 when grains vary (compressed)
	gtEntries    int64 // entries per grain table, to name a grain's entry
}

// span is [start, end) in sectors. For grains, g is the first grain of
// the span and label is -1; metadata has g = -1 and a label.
type span struct {
	start, end int64
	g          int64
	label      int32
	seq        int32 // insertion order among equal starts (later is reported)
}

// meta claims [start, start+n) for a named structure (header, directory,
// a grain table).
func (s *spanSet) meta(label string, start, n int64) {
	if n <= 0 {
		return
	}
	s.labels = append(s.labels, label)
	s.add(span{start: start, end: start + n, g: -1, label: int32(len(s.labels) - 1)})
}

// grain claims grain g stored at [start, start+n).
func (s *spanSet) grain(g, start, n int64) {
	if n <= 0 {
		return
	}
	if k := len(s.spans); k > 0 && s.grainSectors > 0 && n == s.grainSectors {
		last := &s.spans[k-1]
		if last.g >= 0 && last.end == start && last.g+(last.end-last.start)/s.grainSectors == g {
			last.end += n
			return
		}
	}
	s.add(span{start: start, end: start + n, g: g, label: -1})
}

func (s *spanSet) add(sp span) {
	sp.seq = int32(len(s.spans))
	s.spans = append(s.spans, sp)
}

// overlap is one range found inside an earlier-starting one.
type overlap struct {
	sector         int64  // first shared sector
	what, withWhat string // "grain 5 (grain table 0 entry 5)", "the header"
	g              int64  // the later claimant's grain, -1 for metadata
}

// overlaps sorts the spans and returns each span that starts inside
// another, at most max of them, and how many there are in all.
func (s *spanSet) overlaps(max int) ([]overlap, int) {
	slices.SortFunc(s.spans, func(a, b span) int {
		if a.start != b.start {
			return compare(a.start, b.start)
		}
		return compare(int64(a.seq), int64(b.seq))
	})
	var out []overlap
	total := 0
	owner := -1
	for i, sp := range s.spans {
		if owner >= 0 && sp.start < s.spans[owner].end {
			total++
			if len(out) < max {
				out = append(out, overlap{sector: sp.start, what: s.name(sp, sp.start), withWhat: s.name(s.spans[owner], sp.start), g: sp.g})
			}
		}
		if owner < 0 || sp.end > s.spans[owner].end {
			owner = i
		}
	}
	return out, total
}

// name describes the claimant of sector at within sp.
func (s *spanSet) name(sp span, at int64) string {
	if sp.g < 0 {
		return s.labels[sp.label]
	}
	g := sp.g
	if s.grainSectors > 0 {
		g += (at - sp.start) / s.grainSectors
	}
	if s.gtEntries > 0 {
		return fmt.Sprintf("grain %d (grain table %d entry %d)", g, g/s.gtEntries, g%s.gtEntries)
	}
	return fmt.Sprintf("grain %d", g)
}

func compare(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// dataGrains calls fn for every grain the tables store as data, in
// directory order, reading each table once. Tables that cannot be read
// or entries that do not decode are skipped: Verify reports them, and a
// read that needs them fails there.
func (m *grainMap) dataGrains(ctx interface{ Err() error }, fn func(g, fileOff int64)) error {
	for t := range m.gd {
		if t%1024 == 0 && ctx != nil {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		tbl, err := m.table(int64(t))
		if err != nil || tbl == nil {
			continue
		}
		for i, ent := range tbl {
			g := int64(t)*m.gtEntries + int64(i)
			if ent == 0 || g*m.grainBytes >= m.capacity {
				continue
			}
			if st, fo, err := m.decode(ent); err == nil && st == Data {
				fn(g, fo)
			}
		}
	}
	return nil
}

// OverlapError reports grains of one file that share sectors: reading
// them would present the same stored bytes at several guest offsets (a
// forged 35 KB delta can become gigabytes of "data"). It matches
// ErrCorrupt.
type OverlapError struct {
	File  string
	Count int    // grains found inside another
	First string // the first one, described
}

// Error names the file, the count, the first overlap and the override.
func (e *OverlapError) Error() string {
	return fmt.Sprintf("vmdk: %s: grain tables: %d grains share sectors with another grain (first: %s): the tables are damaged or forged; "+
		"'esxsink vmdk verify' lists them; convert anyway, each shared grain copied to every place that names it, with --allow-overlapping-grains",
		e.File, e.Count, e.First)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *OverlapError) Is(target error) bool { return target == ErrCorrupt }

// grainOverlaps finds the data grains of m that share sectors with
// another grain. Compressed grains count by their first sector (their
// length is known only from their marker).
func (m *grainMap) grainOverlaps(ctx interface{ Err() error }, compressed bool) (*OverlapError, error) {
	s := &spanSet{grainSectors: m.grainBytes / SectorSize, gtEntries: m.gtEntries}
	n := s.grainSectors
	if compressed {
		s.grainSectors, n = 0, 1
	}
	if err := m.dataGrains(ctx, func(g, fo int64) { s.grain(g, fo/SectorSize, n) }); err != nil {
		return nil, err
	}
	ov, total := s.overlaps(1)
	if total == 0 {
		return nil, nil
	}
	return &OverlapError{File: m.name, Count: total, First: fmt.Sprintf("%s at sector %d, inside %s", ov[0].what, ov[0].sector, ov[0].withWhat)}, nil
}
