package vmdk

import (
	"fmt"
	"math/bits"
)

// spanSet records the file sectors a sparse extent's structures claim
// (metadata and grains) and reports a claim that overlaps an earlier one.
// Claims go into a two-level bitmap sized by the file (1 bit per sector:
// 25 MB for a 100 GB delta of 512-byte COWD grains, whose grains lie in
// the file in write order and would cost a sorted list gigabytes). A
// lookup skips empty 4096-sector blocks at a time and an overlapping
// claim is not marked, so a forged table of huge overlapping grains
// costs what its entries number, not entries times grain size. Metadata
// ranges are few and kept in a list, to name what a claim overlaps.
type spanSet struct {
	bits      claimMap
	metas     []span
	labels    []string
	found     []overlap
	total     int
	max       int   // overlaps described; the rest are counted
	gtEntries int64 // entries per grain table, to name a grain's entry
}

// span is [start, end) in sectors, for a labelled metadata range.
type span struct {
	start, end int64
	label      int32
}

// newSpanSet makes a set for a file of fileSize bytes that describes the
// first max overlaps found.
func newSpanSet(fileSize, gtEntries int64, max int) *spanSet {
	return &spanSet{bits: newClaimMap(sectorsOf(fileSize)), gtEntries: gtEntries, max: max}
}

// meta claims [start, start+n) for a named structure (header, directory,
// a grain table).
func (s *spanSet) meta(label string, start, n int64) {
	if n <= 0 {
		return
	}
	s.labels = append(s.labels, label)
	s.metas = append(s.metas, span{start, start + n, int32(len(s.labels) - 1)})
	s.claim(start, n, -1, label)
}

// grain claims grain g stored at [start, start+n).
func (s *spanSet) grain(g, start, n int64) {
	if n > 0 {
		s.claim(start, n, g, "")
	}
}

func (s *spanSet) claim(start, n, g int64, label string) {
	end := min(start+n, s.bits.n) // past the end: reported as a range error
	start = max(start, 0)
	if start >= end {
		return
	}
	if at := s.bits.firstSet(start, end); at >= 0 {
		s.total++
		if len(s.found) < s.max {
			what := label
			if g >= 0 {
				what = s.grainName(g)
			}
			s.found = append(s.found, overlap{sector: at, what: what, g: g})
		}
		return
	}
	s.bits.set(start, end)
}

// overlap is one claim that found sectors claimed already.
type overlap struct {
	sector         int64  // first shared sector
	what, withWhat string // "grain 5 (grain table 0 entry 5)", "the header"
	g              int64  // the later claimant's grain, -1 for metadata
}

// overlaps returns the overlaps described (at most max) with what they
// overlap, and how many there are in all.
func (s *spanSet) overlaps() ([]overlap, int) {
	for i := range s.found {
		s.found[i].withWhat = s.owner(s.found[i].sector)
	}
	return s.found, s.total
}

// owner names the metadata holding sector at, else "another grain".
func (s *spanSet) owner(at int64) string {
	for _, m := range s.metas {
		if at >= m.start && at < m.end {
			return s.labels[m.label]
		}
	}
	return "another grain"
}

func (s *spanSet) grainName(g int64) string {
	if s.gtEntries > 0 {
		return fmt.Sprintf("grain %d (grain table %d entry %d)", g, g/s.gtEntries, g%s.gtEntries)
	}
	return fmt.Sprintf("grain %d", g)
}

// claimMap is a bitmap of sectors with a summary level: bit w of l1
// says whether word w of l0 (64 sectors) has any bit set.
type claimMap struct {
	l0, l1 []uint64
	n      int64 // sectors
}

func newClaimMap(sectors int64) claimMap {
	words := (sectors + 63) / 64
	return claimMap{l0: make([]uint64, words), l1: make([]uint64, (words+63)/64), n: sectors}
}

// firstSet returns the first set sector in [s, e), or -1.
func (c *claimMap) firstSet(s, e int64) int64 {
	for s < e {
		w := s / 64
		if s%64 == 0 && w%64 == 0 && e-s >= 4096 && c.l1[w/64] == 0 {
			s += 4096 // 64 empty words at once
			continue
		}
		word := c.l0[w] >> (s % 64)
		if k := min(64-s%64, e-s); k < 64 {
			word &= 1<<k - 1
		}
		if word != 0 {
			return s + int64(bits.TrailingZeros64(word))
		}
		s = (w + 1) * 64
	}
	return -1
}

// set marks [s, e).
func (c *claimMap) set(s, e int64) {
	for s < e {
		w := s / 64
		k := min(64-s%64, e-s)
		mask := ^uint64(0)
		if k < 64 {
			mask = (1<<k - 1) << (s % 64)
		}
		c.l0[w] |= mask
		c.l1[w/64] |= 1 << (w % 64)
		s += k
	}
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
// another grain; it costs one bit per sector of the file. Compressed grains count by their first sector (their
// length is known only from their marker).
func (m *grainMap) grainOverlaps(ctx interface{ Err() error }, compressed bool) (*OverlapError, error) {
	s := newSpanSet(m.fileSize, m.gtEntries, 1)
	n := m.grainBytes / SectorSize
	if compressed {
		n = 1
	}
	if err := m.dataGrains(ctx, func(g, fo int64) { s.grain(g, fo/SectorSize, n) }); err != nil {
		return nil, err
	}
	ov, total := s.overlaps()
	if total == 0 {
		return nil, nil
	}
	return &OverlapError{File: m.name, Count: total, First: fmt.Sprintf("%s at sector %d, inside %s", ov[0].what, ov[0].sector, ov[0].withWhat)}, nil
}
