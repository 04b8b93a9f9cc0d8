package vmdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/esxsink/esxsink/digest"
	"github.com/esxsink/esxsink/internal/durable"
)

// DefaultHashes are the digests Convert computes when none are given.
func DefaultHashes() []string { return []string{"md5", "sha256"} }

const (
	// convertChunk is the unit of work: big enough for large sequential
	// reads and to amortise the ordering, small enough that a few per
	// worker stay in memory.
	convertChunk = 1 << 20
	// writebackStep is how much output accumulates before its writeback
	// is started, so the disk writes while the converter computes and
	// the closing fsync finds little left to do. Small steps keep the
	// disk busy from the start: a 4 GiB monolithicSparse disk (2 GiB
	// written) took 1.01-1.26 s with 4 MiB steps against 1.09-1.39 s
	// with 16 MiB and 1.7 s with none, interleaved on the bench machine.
	writebackStep = 4 << 20
	// holeBlock is the granularity at which zeros in data become holes,
	// the file-system block size qemu-img uses too (-S 4k).
	holeBlock = 4096
)

// ConvertOptions tune Convert.
type ConvertOptions struct {
	// Hashes lists digest algorithms (package digest names) computed over
	// the raw output in the same pass that writes it. nil means
	// DefaultHashes; an empty non-nil slice turns hashing off.
	Hashes []string
	// Workers reading and inflating in parallel; 0 means GOMAXPROCS.
	Workers int
	// Overwrite replaces an existing output file; by default Convert
	// refuses, so a result is never written over something else.
	Overwrite bool
	// AllowEncrypted converts an encrypted disk's ciphertext as stored
	// instead of refusing.
	AllowEncrypted bool
	// AllowOverlaps converts a disk whose grain tables point several
	// entries at the same stored sectors, copying the shared bytes to
	// every guest offset that names them, and records a warning. By
	// default Convert refuses such a disk with an *OverlapError: a
	// forged 35 KB delta would otherwise become gigabytes of "data".
	AllowOverlaps bool
	// Progress, when set, is called from a single goroutine after each
	// chunk with the bytes done so far.
	Progress func(done, total int64)
}

// ConvertResult describes a finished conversion.
type ConvertResult struct {
	Output    string        `json:"output"`
	Size      int64         `json:"size"`
	DataBytes int64         `json:"data_bytes"` // bytes written
	HoleBytes int64         `json:"hole_bytes"` // zeros left as holes
	Digest    digest.Result `json:"digest"`
	// HashedBytes counts the bytes fed to hash functions (the size once
	// per algorithm); 0 with no algorithms.
	HashedBytes int64    `json:"hashed_bytes"`
	Warnings    []string `json:"warnings,omitempty"`
}

// Convert writes the guest disk d as a raw image at dst: a sparse file
// whose holes are the unallocated and zero ranges (and data that is all
// zeros), hashing the full byte stream, holes included, as it writes.
// On failure or cancellation the partial output is removed.
func Convert(ctx context.Context, d *Disk, dst string, opts ConvertOptions) (res *ConvertResult, err error) {
	if d.Encrypted() && !opts.AllowEncrypted {
		return nil, &classified{fmt.Sprintf("vmdk: %s: the disk is encrypted (vSphere VM encryption): its extents hold ciphertext, "+
			"which a raw image would present as disk content; decrypt it on the host, or convert the ciphertext knowingly with --allow-encrypted", d.Layers[0].Path), ErrEncrypted}
	}
	if err := d.notAnInput(dst); err != nil {
		return nil, err
	}
	warnings, err := d.checkOverlaps(ctx, opts.AllowOverlaps)
	if err != nil {
		return nil, err
	}
	algs := opts.Hashes
	if algs == nil {
		algs = DefaultHashes()
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if opts.Overwrite {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(dst, flags, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("vmdk: %s: %w; choose another output or allow overwriting (--force)", dst, os.ErrExist)
		}
		return nil, fmt.Errorf("vmdk: create output: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(dst)
		}
	}()
	dg := digest.New(algs, 0)
	res = &ConvertResult{Output: dst, Size: d.size, Warnings: warnings}
	if err := d.writeRaw(ctx, f, dg, res, opts); err != nil {
		dg.Result()
		return nil, err
	}
	if err := f.Truncate(d.size); err != nil {
		return nil, fmt.Errorf("vmdk: set size of %s: %w", dst, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("vmdk: sync %s: %w", dst, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("vmdk: close %s: %w", dst, err)
	}
	res.Digest = dg.Result()
	res.Digest.Size = d.size // holes are not fed to a digester with nothing to hash
	res.HashedBytes = dg.Hashed()
	return res, nil
}

// checkOverlaps looks, in every sparse extent of the chain, for grains
// that share stored sectors: an error unless allowed, then a warning.
// It reads each grain table once and sorts, so it costs what the tables
// hold.
func (d *Disk) checkOverlaps(ctx context.Context, allow bool) ([]string, error) {
	var warnings []string
	for _, l := range d.Layers {
		for _, e := range l.extents {
			m, compressed := grainMapOf(e.ext)
			if m == nil {
				continue
			}
			ov, err := m.grainOverlaps(ctx, compressed)
			if err != nil {
				return nil, err
			}
			if ov == nil {
				continue
			}
			if !allow {
				return nil, ov
			}
			warnings = append(warnings, fmt.Sprintf("%s: %d grains share sectors with another grain (first: %s); each is copied to every guest offset that names it (--allow-overlapping-grains)",
				ov.File, ov.Count, ov.First))
		}
	}
	return warnings, nil
}

// grainMapOf returns the grain map behind a sparse extent, nil for raw
// extents, and whether its grains are compressed.
func grainMapOf(e extent) (*grainMap, bool) {
	switch x := e.(type) {
	case *sparseExtent:
		return x.grainMap, x.hdr.Flags&flagCompressed != 0
	case *cowdExtent:
		return x.grainMap, false
	case *seSparseExtent:
		return x.grainMap, false
	}
	return nil, false
}

// notAnInput refuses an output path that is one of the disk's files.
func (d *Disk) notAnInput(dst string) error {
	st, err := os.Stat(dst)
	if err != nil {
		return nil
	}
	for _, l := range d.Layers {
		for _, f := range l.files {
			if fst, err := f.Stat(); err == nil && os.SameFile(st, fst) {
				return fmt.Errorf("vmdk: refusing to write %s: it is one of the disk's own files (%s)", dst, f.Name())
			}
		}
	}
	return nil
}

// chunkResult is one converted chunk on its way to the writer.
type chunkResult struct {
	off, n int64
	hole   bool
	buf    []byte
	segs   [][2]int // data byte ranges in buf; the rest is zeros
	err    error
}

// writeRaw converts the chunks in parallel and hashes them in order.
// Each worker writes its own chunk (pwrite needs no order, and on two
// cores a single writing goroutine was the bottleneck of an
// uncompressed disk: the copy into the page cache is most of the work);
// only the digest needs the stream in order, so the consumer hashes,
// counts, reports progress and starts writeback behind the workers.
func (d *Disk) writeRaw(ctx context.Context, f *os.File, dg *digest.Digester, res *ConvertResult, opts ConvertOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	hashing := opts.Hashes == nil || len(opts.Hashes) > 0
	window := 2*workers + 2
	type job struct {
		off  int64
		slot chan chunkResult
	}
	jobs := make(chan job)
	order := make(chan chan chunkResult, window)
	pool := sync.Pool{New: func() any { b := make([]byte, convertChunk); return &b }}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		defer close(order)
		walk := &chainWalker{d: d}
		for off := int64(0); off < d.size; {
			slot := make(chan chunkResult, 1)
			select {
			case order <- slot:
			case <-ctx.Done():
				return
			}
			// A hole of a chunk or more is one result that no worker
			// reads: its length costs nothing but, when hashing, the
			// zeros the digest must see.
			if n := d.holeAhead(walk, off); n > 0 {
				slot <- chunkResult{off: off, n: n, hole: true}
				off += n
				continue
			}
			select {
			case jobs <- job{off, slot}:
			case <-ctx.Done():
				slot <- chunkResult{err: ctx.Err()}
				return
			}
			off += min(convertChunk, d.size-off)
		}
	}()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				bp := pool.Get().(*[]byte)
				r := d.produce(j.off, (*bp)[:min(convertChunk, d.size-j.off)])
				if r.err == nil && !r.hole {
					r.err = writeSegments(f, r)
				}
				// The buffer goes on to the consumer only for the digest.
				if r.hole || r.err != nil || !hashing {
					pool.Put(bp)
					r.buf = nil
				}
				j.slot <- r
			}
		}()
	}
	err := d.consume(ctx, f, dg, res, hashing, opts, order, func(b []byte) { pool.Put(&b) })
	cancel()
	for range order { // let the producer finish so wg.Wait returns
	}
	wg.Wait()
	return err
}

// writeSegments writes the data ranges of a converted chunk; the zeros
// between them stay holes.
func writeSegments(f *os.File, r chunkResult) error {
	for _, s := range r.segs {
		if _, err := f.WriteAt(r.buf[s[0]:s[1]], r.off+int64(s[0])); err != nil {
			return fmt.Errorf("vmdk: write %s: %w", f.Name(), err)
		}
	}
	return nil
}

// consume takes chunk results in order, written already, until all are
// done or one failed: it hashes them, counts data and holes, and starts
// the writeback of what is written.
func (d *Disk) consume(ctx context.Context, f *os.File, dg *digest.Digester, res *ConvertResult, hashing bool, opts ConvertOptions,
	order <-chan chan chunkResult, release func([]byte)) error {
	var zeros []byte
	if hashing {
		zeros = make([]byte, convertChunk)
	}
	var done, flushed int64
	for slot := range order {
		r := <-slot
		if r.err != nil {
			return r.err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.hole {
			// Holes are never written (the file is sized at the end), and
			// hashed only when a digest was asked for.
			for left := r.n; hashing && left > 0; left -= min(left, convertChunk) {
				dg.Write(zeros[:min(left, convertChunk)])
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			res.HoleBytes += r.n
		} else {
			var data int64
			for _, s := range r.segs {
				data += int64(s[1] - s[0])
			}
			if r.buf != nil {
				dg.Write(r.buf)
				release(r.buf[:cap(r.buf)])
			}
			res.DataBytes += data
			res.HoleBytes += r.n - data
		}
		done += r.n
		if done-flushed >= writebackStep {
			durable.StartWriteback(f, flushed, done-flushed)
			flushed = done
		}
		if opts.Progress != nil {
			opts.Progress(done, d.size)
		}
	}
	if done != d.size {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("vmdk: internal error: wrote %d of %d bytes", done, d.size)
	}
	return nil
}

// holeAhead returns how many bytes from off (a chunk boundary) read as
// zeros without reading any data, in whole chunks (or to the end of the
// disk), so that conversion keeps chunk alignment; 0 when the next chunk
// holds data or the map cannot be read there (the worker then reports
// the error).
func (d *Disk) holeAhead(w *chainWalker, off int64) int64 {
	pos := off
	for pos < d.size {
		r, err := w.next(pos)
		if err != nil || r.State == Data {
			break
		}
		pos += r.Length
	}
	if pos == d.size {
		return pos - off
	}
	return (pos - off) / convertChunk * convertChunk
}

// produce reads the chunk at off into buf and finds its data ranges.
func (d *Disk) produce(off int64, buf []byte) chunkResult {
	n := int64(len(buf))
	r := chunkResult{off: off, n: n, buf: buf}
	hasData := false
	for pos := off; pos < off+n; {
		run, err := d.MapRun(pos, off+n-pos)
		if err != nil {
			r.err = err
			return r
		}
		if run.State == Data {
			hasData = true
			break
		}
		pos += run.Length
	}
	if !hasData {
		r.hole = true
		return r
	}
	if _, err := d.ReadAt(buf, off); err != nil {
		r.err = err
		return r
	}
	var zero [holeBlock]byte
	start := -1
	for i := 0; i < len(buf); i += holeBlock {
		b := buf[i:min(i+holeBlock, len(buf))]
		if bytes.Equal(b, zero[:len(b)]) {
			if start >= 0 {
				r.segs = append(r.segs, [2]int{start, i})
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		r.segs = append(r.segs, [2]int{start, len(buf)})
	}
	return r
}
