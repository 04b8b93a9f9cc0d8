package esxsim

import (
	"encoding/binary"
	"io"
	"maps"
	"sync"
)

// genBlock is the unit of generated content: each 64 KiB block is filled
// from its own PRNG stream, so any offset can be read in O(1).
const genBlock = 64 << 10

// zeroRegion is the granularity of zero runs in generated disks.
const zeroRegion = 1 << 20

// genContent is a large file generated on read from a seed: data blocks
// of pseudo-random bytes with runs of zeros, as a real disk has unused
// space. Writes (a consolidation, a guest writing before any snapshot)
// land in an in-memory overlay of 4 KiB blocks.
type genContent struct {
	size int64
	seed uint64
	// zeroPermille is the share (per mille) of 1 MiB regions that are all
	// zeros.
	zeroPermille uint64
	// extents are fixed bytes laid over the generated data: a boot
	// sector, a guest's partition table and file system. Sorted by
	// offset, never overlapping, set before the disk is first read.
	extents []extent

	mu      sync.RWMutex
	overlay map[int64][]byte // 4 KiB block index -> data
}

const ovBlock = 4096

// extent is a run of fixed bytes at an offset of a generated disk.
type extent struct {
	off  int64
	data []byte
}

// newGen makes a generated disk; head, when given, is laid at offset 0
// (a boot sector, a label).
func newGen(size int64, seed uint64, zeroPermille int, head []byte) *genContent {
	g := &genContent{size: size, seed: seed, zeroPermille: uint64(zeroPermille)}
	if len(head) > 0 {
		g.extents = []extent{{0, head}}
	}
	return g
}

// fixedEnd is the offset just past the last fixed extent: the guest's
// file-system structures and files lie below it, so the simulated guest's
// later writes go above it and leave the file system consistent.
func (g *genContent) fixedEnd() int64 {
	if len(g.extents) == 0 {
		return 0
	}
	last := g.extents[len(g.extents)-1]
	return last.off + int64(len(last.data))
}

func (g *genContent) Size() int64 { return g.size }

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (g *genContent) zeroAt(off int64) bool {
	if g.zeroPermille == 0 || off < zeroRegion {
		return false
	}
	return splitmix(g.seed^uint64(off/zeroRegion)*0x2545f4914f6cdd1d)%1000 < g.zeroPermille
}

// fillBlock writes the bytes of block b from in-block offset in into p.
func (g *genContent) fillBlock(p []byte, b int64, in int) {
	if g.zeroAt(b * genBlock) {
		clear(p)
		return
	}
	s := splitmix(g.seed ^ uint64(b)*0x9e3779b97f4a7c15)
	// Skip to the word holding byte `in`; xorshift64* per 8 bytes.
	word := in / 8
	for range word {
		s ^= s >> 12
		s ^= s << 25
		s ^= s >> 27
	}
	var tmp [8]byte
	i := 0
	if r := in % 8; r != 0 {
		s ^= s >> 12
		s ^= s << 25
		s ^= s >> 27
		binary.LittleEndian.PutUint64(tmp[:], s*0x2545f4914f6cdd1d)
		i = copy(p, tmp[r:])
	}
	for ; i+8 <= len(p); i += 8 {
		s ^= s >> 12
		s ^= s << 25
		s ^= s >> 27
		binary.LittleEndian.PutUint64(p[i:], s*0x2545f4914f6cdd1d)
	}
	if i < len(p) {
		s ^= s >> 12
		s ^= s << 25
		s ^= s >> 27
		binary.LittleEndian.PutUint64(tmp[:], s*0x2545f4914f6cdd1d)
		copy(p[i:], tmp[:])
	}
}

func (g *genContent) ReadAt(p []byte, off int64) (int, error) {
	if off >= g.size {
		return 0, io.EOF
	}
	var err error
	if int64(len(p)) > g.size-off {
		p = p[:g.size-off]
		err = io.EOF
	}
	for done := 0; done < len(p); {
		pos := off + int64(done)
		b, in := pos/genBlock, int(pos%genBlock)
		n := min(len(p)-done, genBlock-in)
		g.fillBlock(p[done:done+n], b, in)
		done += n
	}
	end := off + int64(len(p))
	for _, e := range g.extents {
		eEnd := e.off + int64(len(e.data))
		if e.off >= end {
			break
		}
		if eEnd <= off {
			continue
		}
		lo, hi := max(e.off, off), min(eEnd, end)
		copy(p[lo-off:hi-off], e.data[lo-e.off:hi-e.off])
	}
	g.mu.RLock()
	if len(g.overlay) > 0 {
		for blk := off / ovBlock; blk*ovBlock < off+int64(len(p)); blk++ {
			if d, ok := g.overlay[blk]; ok {
				s := blk * ovBlock
				lo, hi := max(s, off), min(s+ovBlock, off+int64(len(p)))
				copy(p[lo-off:hi-off], d[lo-s:hi-s])
			}
		}
	}
	g.mu.RUnlock()
	return len(p), err
}

// WriteAt changes the disk: the bytes go to the overlay.
func (g *genContent) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > g.size {
		return 0, io.ErrShortWrite
	}
	for done := 0; done < len(p); {
		pos := off + int64(done)
		blk, in := pos/ovBlock, int(pos%ovBlock)
		n := min(len(p)-done, ovBlock-in)
		// A block is replaced, never changed in place: a frozen image
		// (frozenChain) shares the blocks it saw.
		d := make([]byte, ovBlock)
		g.mu.RLock()
		old, ok := g.overlay[blk]
		g.mu.RUnlock()
		if ok {
			copy(d, old)
		} else {
			g.ReadAt(d, blk*ovBlock)
		}
		copy(d[in:], p[done:done+n])
		g.mu.Lock()
		if g.overlay == nil {
			g.overlay = map[int64][]byte{}
		}
		g.overlay[blk] = d
		g.mu.Unlock()
		done += n
	}
	return len(p), nil
}

// frozen is a copy of g as it is now, which later writes to g do not
// change.
func (g *genContent) frozen() *genContent {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return &genContent{size: g.size, seed: g.seed, zeroPermille: g.zeroPermille, extents: g.extents, overlay: maps.Clone(g.overlay)}
}

// Truncate is refused: disks keep their size.
func (g *genContent) Truncate(size int64) error {
	if size == g.size {
		return nil
	}
	return io.ErrShortWrite
}

// readerAtContent adapts an io.ReaderAt of known size (a delta file on
// the host's work folder) to content.
type readerAtContent struct {
	r    io.ReaderAt
	size func() int64
}

func (c readerAtContent) Size() int64 { return c.size() }
func (c readerAtContent) ReadAt(p []byte, off int64) (int, error) {
	sz := c.size()
	if off >= sz {
		return 0, io.EOF
	}
	if int64(len(p)) > sz-off {
		n, err := c.r.ReadAt(p[:sz-off], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return c.r.ReadAt(p, off)
}

// sliceContent shows a window of another content (a partition).
type sliceContent struct {
	c        content
	off, len int64
}

func (s sliceContent) Size() int64 { return s.len }
func (s sliceContent) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.len {
		return 0, io.EOF
	}
	var err error
	if int64(len(p)) > s.len-off {
		p, err = p[:s.len-off], io.EOF
	}
	n, rerr := s.c.ReadAt(p, s.off+off)
	if rerr != nil && rerr != io.EOF {
		return n, rerr
	}
	return n, err
}
