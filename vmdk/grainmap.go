package vmdk

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"
)

// grainMap is the two-level lookup the sparse formats share: a grain
// directory (GD) locating grain tables (GT), whose entries locate grains.
// The formats differ only in entry width and in how entries decode, which
// the two funcs supply.
type grainMap struct {
	name       string
	r          io.ReaderAt
	fileSize   int64
	capacity   int64 // bytes the header says the tables describe
	grainBytes int64
	gtEntries  int64
	entryWidth int      // 4 or 8
	gd         []uint64 // raw directory entries, as many as capacity needs
	// gtOffset turns a non-zero directory entry into its table's byte
	// offset.
	gtOffset func(raw uint64) (int64, error)
	// decode turns a table entry into a state and, for Data, the byte
	// offset of the grain (of its marker when compressed).
	decode func(raw uint64) (State, int64, error)
	// readCompressed, when set, reads grain g stored at byte fo.
	readCompressed func(g, fo int64, dst []byte, in int64) error

	mu     sync.Mutex
	tables map[int64][]uint64 // by table byte offset
	cached int64
}

// coverage is the number of bytes one grain table describes.
func (m *grainMap) coverage() int64 { return m.gtEntries * m.grainBytes }

// gdEntriesFor is how many directory entries a capacity needs.
func gdEntriesFor(capacityBytes, coverage int64) int64 {
	return ceilDiv(capacityBytes, coverage)
}

// readDirectory reads n entries of width bytes at byte off, after checking
// they lie inside the file, so the allocation is bounded by the file.
func readDirectory(r io.ReaderAt, name string, fileSize, off, n int64, width int) ([]uint64, error) {
	if n > maxGDEntries {
		return nil, corruptf("vmdk: %s: grain directory of %d entries is larger than any real disk needs (limit %d)", name, n, maxGDEntries)
	}
	size := n * int64(width)
	if off < 0 || off > fileSize || size > fileSize-off {
		return nil, corruptf("vmdk: %s: grain directory (%d entries at byte %d) runs past the end of the file (%d bytes): the file is truncated or the header is damaged", name, n, off, fileSize)
	}
	buf := make([]byte, size)
	if err := readFull(r, name, buf, off); err != nil {
		return nil, err
	}
	return decodeEntries(buf, width), nil
}

func decodeEntries(buf []byte, width int) []uint64 {
	out := make([]uint64, len(buf)/width)
	for i := range out {
		if width == 4 {
			out[i] = uint64(binary.LittleEndian.Uint32(buf[i*4:]))
		} else {
			out[i] = binary.LittleEndian.Uint64(buf[i*8:])
		}
	}
	return out
}

// checkSharedTables refuses a directory whose entries point at the same
// grain table, or at tables that overlap. No writer does that; reading
// through it would show the same stored grains at many guest offsets
// and make every walk of the map as long as the forgery wants (262,144
// entries sharing one table of a 1 MB file). Sorting keeps the check
// O(n log n) in the directory's size.
func (m *grainMap) checkSharedTables() error {
	type ref struct {
		off int64
		t   int
	}
	refs := make([]ref, 0, len(m.gd))
	for t, raw := range m.gd {
		if raw == 0 {
			continue
		}
		if off, err := m.gtOffset(raw); err == nil {
			refs = append(refs, ref{off, t})
		}
	}
	slices.SortFunc(refs, func(a, b ref) int { return compare(a.off, b.off) })
	size := m.gtEntries * int64(m.entryWidth)
	for i := 1; i < len(refs); i++ {
		a, b := refs[i-1], refs[i]
		if b.off-a.off < size {
			how := "the same grain table"
			if b.off != a.off {
				how = "overlapping grain tables"
			}
			return fieldErrorf(m.name, fmt.Sprintf("grain directory entries %d and %d", min(a.t, b.t), max(a.t, b.t)),
				"point at %s (bytes %d and %d, tables of %d bytes): no writer shares tables; the directory is damaged or forged ('esxsink vmdk verify' shows the rest of the file)",
				how, a.off, b.off, size)
		}
	}
	return nil
}

// table returns grain table t, nil when the directory says it is absent.
func (m *grainMap) table(t int64) ([]uint64, error) {
	if t < 0 || t >= int64(len(m.gd)) || m.gd[t] == 0 {
		return nil, nil
	}
	off, err := m.gtOffset(m.gd[t])
	if err != nil {
		return nil, fmt.Errorf("vmdk: %s: grain directory entry %d: %w", m.name, t, err)
	}
	size := m.gtEntries * int64(m.entryWidth)
	if off < 0 || off > m.fileSize || size > m.fileSize-off {
		return nil, corruptf("vmdk: %s: grain table %d at byte %d runs past the end of the file (%d bytes): the file is truncated or the directory is damaged", m.name, t, off, m.fileSize)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if tbl, ok := m.tables[off]; ok {
		return tbl, nil
	}
	buf := make([]byte, size)
	if err := readFull(m.r, m.name, buf, off); err != nil {
		return nil, err
	}
	tbl := decodeEntries(buf, m.entryWidth)
	if m.tables == nil || m.cached+size*2 > maxTableCache {
		m.tables, m.cached = map[int64][]uint64{}, 0
	}
	m.tables[off] = tbl
	m.cached += size * 2
	return tbl, nil
}

// lookup returns the state of grain g and, for Data, its byte offset.
func (m *grainMap) lookup(g int64) (State, int64, error) {
	tbl, err := m.table(g / m.gtEntries)
	if err != nil || tbl == nil {
		return Unallocated, 0, err
	}
	st, off, err := m.decode(tbl[g%m.gtEntries])
	if err != nil {
		return st, 0, fmt.Errorf("vmdk: %s: grain %d (table %d entry %d): %w", m.name, g, g/m.gtEntries, g%m.gtEntries, err)
	}
	return st, off, nil
}

// mapRun implements extent. Runs extend across grains and tables of the
// same state, so a hole the size of a whole table costs one step.
func (m *grainMap) mapRun(off, n int64) (State, int64, error) {
	if off >= m.capacity {
		// Past what the header describes (the descriptor claims more):
		// nothing is stored there.
		return Unallocated, n, nil
	}
	n = min(n, m.capacity-off)
	gb := m.grainBytes
	g := off / gb
	st, _, err := m.lookup(g)
	if err != nil {
		return st, 0, err
	}
	run := (g+1)*gb - off
	for run < n {
		g++
		t := g / m.gtEntries
		if st == Unallocated && g%m.gtEntries == 0 && (t >= int64(len(m.gd)) || m.gd[t] == 0) {
			run += m.coverage()
			g += m.gtEntries - 1
			continue
		}
		s2, _, err := m.lookup(g)
		if err != nil || s2 != st {
			break // an error surfaces when the caller reaches that grain
		}
		run += gb
	}
	return st, min(run, n), nil
}

// readData implements extent: grains contiguous in the file are read with
// one call.
func (m *grainMap) readData(p []byte, off int64) error {
	gb := m.grainBytes
	for len(p) > 0 {
		g, in := off/gb, off%gb
		n := min(int64(len(p)), gb-in)
		st, fo, err := m.lookup(g)
		if err != nil {
			return err
		}
		switch {
		case st != Data:
			clear(p[:n])
		case m.readCompressed != nil:
			if err := m.readCompressed(g, fo, p[:n], in); err != nil {
				return err
			}
		default:
			for n < int64(len(p)) {
				s2, fo2, err := m.lookup(g + (in+n)/gb)
				if err != nil || s2 != Data || fo2 != fo+in+n-(in+n)%gb {
					break
				}
				n = min(int64(len(p)), n+gb)
			}
			start := fo + in
			if start+n > m.fileSize {
				return corruptf("vmdk: %s: grain %d at byte %d runs past the end of the file (%d bytes): the file is truncated", m.name, g, fo, m.fileSize)
			}
			if err := readFull(m.r, m.name, p[:n], start); err != nil {
				return err
			}
		}
		p, off = p[n:], off+n
	}
	return nil
}
