package vmdk

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// StreamOptions tune WriteStreamOptimized.
type StreamOptions struct {
	GrainSectors int64 // 0 means 128 (64 KiB)
	// Level is the zlib level, 1 (fastest) to 9; 0 means zlib's default.
	Level   int
	Workers int    // compressing in parallel; 0 means GOMAXPROCS
	CID     uint32 // 0 means 0xfffffffe
}

// WriteStreamOptimized writes the size bytes of src as a streamOptimized
// file at path in VMware's layout: header with the grain directory "at
// the end", embedded descriptor, compressed grains with their LBA, a
// grain-table marker and table after each table's grains, the directory,
// a footer and an end-of-stream marker. Grains that are all zeros are
// left out. The file must not exist.
func WriteStreamOptimized(ctx context.Context, path string, src io.ReaderAt, size int64, o StreamOptions) (err error) {
	grain := o.GrainSectors
	if grain == 0 {
		grain = 128
	}
	level := o.Level
	if level == 0 {
		level = zlib.DefaultCompression
	}
	if size <= 0 || size%SectorSize != 0 || grain < 1 || grain > maxCompressedGrain || level < -1 || level > 9 {
		return fmt.Errorf("vmdk: stream %s: size %d (want a positive multiple of 512), grain %d or level %d is not possible", path, size, grain, o.Level)
	}
	cid := o.CID
	if cid == 0 {
		cid = 0xfffffffe
	}
	sectors := size / SectorSize
	d := &Descriptor{Version: 1, CID: cid, ParentCID: NoParentCID, CreateType: "streamOptimized",
		Extents: []ExtentLine{{Access: AccessRW, Sectors: sectors, Type: ExtentSparse, FileName: filepath.Base(path)}},
		DDB:     []KeyValue{{Key: "ddb.virtualHWVersion", Value: "4"}, {Key: "ddb.adapterType", Value: "lsilogic"}}}
	text := d.Marshal()
	descSectors := (int64(len(text)) + SectorSize - 1) / SectorSize
	h := sparseHeader{Version: 3, Flags: flagValidNewline | flagCompressed | flagMarkers, Capacity: uint64(sectors),
		GrainSize: uint64(grain), DescriptorOffset: 1, DescriptorSize: uint64(descSectors), NumGTEsPerGT: sparseGTEs,
		GDOffset: gdAtEnd, Overhead: uint64(1 + descSectors), CompressAlgorithm: 1}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("vmdk: create stream: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("vmdk: close %s: %w", path, cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	sw := &streamWriter{w: bufio.NewWriterSize(f, 1<<20)}
	sw.write(h.marshal())
	sw.write(pad(text))

	gb := grain * SectorSize
	nGrains := (size + gb - 1) / gb
	numGD := gdEntriesFor(sectors, sparseGTEs*grain)
	gd := make([]uint32, numGD)
	gt := make([]uint32, sparseGTEs)
	used := false
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	batch := int64(workers * 16)
	comp := newGrainCompressor(src, size, gb, level, workers)
	for first := int64(0); first < nGrains; first += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		grains, err := comp.compress(first, min(first+batch, nGrains))
		if err != nil {
			return err
		}
		for i, payload := range grains {
			g := first + int64(i)
			if payload != nil {
				gt[g%sparseGTEs] = uint32(sw.sector())
				used = true
				var hdr [grainHeaderSize]byte
				binary.LittleEndian.PutUint64(hdr[:], uint64(g*grain))
				binary.LittleEndian.PutUint32(hdr[8:], uint32(len(payload)))
				sw.write(hdr[:])
				sw.write(payload)
				sw.write(make([]byte, padLen(grainHeaderSize+int64(len(payload)))))
			}
			if (g+1)%sparseGTEs == 0 || g+1 == nGrains {
				if used {
					sw.marker(sparseGTEs*4/SectorSize, markerGT)
					gd[g/sparseGTEs] = uint32(sw.sector())
					sw.write(u32s(gt))
				}
				clear(gt)
				used = false
			}
		}
	}
	gdBytes := pad(u32s(gd))
	sw.marker(int64(len(gdBytes))/SectorSize, markerGD)
	footer := h
	footer.GDOffset = uint64(sw.sector())
	sw.write(gdBytes)
	sw.marker(1, markerFooter)
	sw.write(footer.marshal())
	sw.write(make([]byte, SectorSize)) // end of stream
	if sw.pos/SectorSize > 0xffffffff {
		return fmt.Errorf("vmdk: stream %s would pass 2 TiB (32-bit sectors)", path)
	}
	return errors.Join(sw.err, sw.w.Flush())
}

// streamWriter appends to the output, keeping the position and the first
// error.
type streamWriter struct {
	w   *bufio.Writer
	pos int64
	err error
}

func (s *streamWriter) write(b []byte) {
	if s.err != nil {
		return
	}
	n, err := s.w.Write(b)
	s.pos += int64(n)
	s.err = err
}

func (s *streamWriter) sector() int64 { return s.pos / SectorSize }

func (s *streamWriter) marker(numSectors int64, typ uint32) {
	b := make([]byte, SectorSize)
	binary.LittleEndian.PutUint64(b, uint64(numSectors))
	binary.LittleEndian.PutUint32(b[12:], typ)
	s.write(b)
}

func padLen(n int64) int64 { return (SectorSize - n%SectorSize) % SectorSize }

func pad(b []byte) []byte { return append(b, make([]byte, padLen(int64(len(b))))...) }

func u32s(v []uint32) []byte {
	b := make([]byte, len(v)*4)
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[i*4:], x)
	}
	return b
}

// grainCompressor reads and compresses batches of grains in parallel.
type grainCompressor struct {
	src      io.ReaderAt
	size, gb int64
	level    int
	workers  int
	pool     sync.Pool
}

func newGrainCompressor(src io.ReaderAt, size, gb int64, level, workers int) *grainCompressor {
	c := &grainCompressor{src: src, size: size, gb: gb, level: level, workers: workers}
	c.pool.New = func() any { return &compressState{raw: make([]byte, gb)} }
	return c
}

type compressState struct {
	raw []byte
	out bytes.Buffer
	zw  *zlib.Writer
}

// compress returns the zlib payload of grains [first, end); nil for a
// grain that is all zeros.
func (c *grainCompressor) compress(first, end int64) ([][]byte, error) {
	out := make([][]byte, end-first)
	errs := make([]error, c.workers)
	var wg sync.WaitGroup
	for w := 0; w < c.workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			st := c.pool.Get().(*compressState)
			defer c.pool.Put(st)
			for g := first + int64(w); g < end; g += int64(c.workers) {
				n := min(c.gb, c.size-g*c.gb)
				raw := st.raw[:n]
				if k, err := c.src.ReadAt(raw, g*c.gb); k < int(n) {
					if err == nil || err == io.EOF {
						err = io.ErrUnexpectedEOF
					}
					errs[w] = fmt.Errorf("vmdk: stream: read source at byte %d: %w", g*c.gb, err)
					return
				}
				if allZero(raw) {
					continue
				}
				st.out.Reset()
				if st.zw == nil {
					zw, err := zlib.NewWriterLevel(&st.out, c.level)
					if err != nil {
						errs[w] = err
						return
					}
					st.zw = zw
				} else {
					st.zw.Reset(&st.out)
				}
				st.zw.Write(raw)
				if err := st.zw.Close(); err != nil {
					errs[w] = err
					return
				}
				out[g-first] = bytes.Clone(st.out.Bytes())
			}
		}(w)
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
