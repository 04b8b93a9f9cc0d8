// Package digest computes whole-stream and piecewise hashes of evidence with
// one goroutine per algorithm, so that the slowest algorithm (MD5, about
// 630 MB/s) sets the pace instead of the sum of all of them.
//
// The same Digester serves the sink (hashing bytes as they arrive) and
// verification (re-hashing a file at rest), so both sides of every
// comparison are computed by one piece of code.
package digest

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Supported lists the algorithm names accepted by Parse, in canonical order.
var supported = []string{"md5", "sha1", "sha256"}

// Supported returns the algorithm names accepted by Parse.
func Supported() []string { return slices.Clone(supported) }

// DefaultPieceSize is the piecewise hash window (dcfldd's hashwindow).
const DefaultPieceSize = 256 << 20

// Parse turns "md5,sha256" into a canonical, de-duplicated list. "none" or
// an empty string yields an empty, non-nil list: hashing off. The result
// is never nil on success, so a caller whose nil means "the defaults"
// (vmdk.ConvertOptions, nfssink.Config) cannot turn "none" into MD5 and
// SHA-256 by accident.
func Parse(s string) ([]string, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" || s == "none" {
		return []string{}, nil
	}
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "sha-256" {
			f = "sha256"
		} else if f == "sha-1" {
			f = "sha1"
		}
		if !slices.Contains(supported, f) {
			return nil, fmt.Errorf("unknown hash algorithm %q (supported: %s)", f, strings.Join(supported, ", "))
		}
		seen[f] = true
	}
	out := []string{}
	for _, a := range supported {
		if seen[a] {
			out = append(out, a)
		}
	}
	return out, nil
}

func newHash(alg string) hash.Hash {
	switch alg {
	case "md5":
		return md5.New()
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	}
	panic("digest: unknown algorithm " + alg) // Parse guards every caller
}

// PieceAlgorithm picks the algorithm used for piecewise hashes: SHA-256 when
// selected (SHA-NI makes it cheap), else the strongest selected one.
func PieceAlgorithm(algs []string) string {
	if len(algs) == 0 {
		return ""
	}
	if slices.Contains(algs, "sha256") {
		return "sha256"
	}
	return algs[len(algs)-1]
}

// Result is the outcome of hashing one stream.
type Result struct {
	Size           int64             `json:"size"`
	Sums           map[string]string `json:"hashes"`
	PieceSize      int64             `json:"piece_size,omitempty"`
	PieceAlgorithm string            `json:"piece_algorithm,omitempty"`
	// Pieces holds one hex digest per PieceSize window; the last may be short.
	Pieces []string `json:"pieces,omitempty"`
}

// Equal reports whether r and o hold the same size and the same digests for
// every algorithm both computed.
func (r Result) Equal(o Result) bool {
	if r.Size != o.Size {
		return false
	}
	common := 0
	for alg, s := range r.Sums {
		if t, ok := o.Sums[alg]; ok {
			common++
			if s != t {
				return false
			}
		}
	}
	return common > 0 || (len(r.Sums) == 0 && len(o.Sums) == 0)
}

// BadPieces lists the indexes of pieces whose digests differ between r and
// o; both must use the same piece size and algorithm.
func (r Result) BadPieces(o Result) []int {
	var bad []int
	n := max(len(r.Pieces), len(o.Pieces))
	for i := 0; i < n; i++ {
		if i >= len(r.Pieces) || i >= len(o.Pieces) || r.Pieces[i] != o.Pieces[i] {
			bad = append(bad, i)
		}
	}
	return bad
}

// chunk is one Write's bytes shared read-only by every worker; the last
// worker to finish with it returns it to the pool.
type chunk struct {
	buf  []byte
	refs atomic.Int32
}

// release is called by each worker once it has hashed c.
func (c *chunk) release() {
	if c.refs.Add(-1) == 0 {
		chunkPool.Put(c)
	}
}

const maxChunk = 1 << 20

var chunkPool = sync.Pool{New: func() any { return &chunk{buf: make([]byte, 0, maxChunk)} }}

// queueDepth bounds the memory a Digester holds: queueDepth chunks of at
// most 1 MiB per worker.
const queueDepth = 16

// Digester hashes a stream written to it. Write copies its input and
// returns before hashing finishes; Result waits for the workers.
// It is not safe for concurrent Writes.
type Digester struct {
	algs      []string
	pieceSize int64
	pieceAlg  string
	size      int64
	hashed    int64 // bytes fed to hash functions, over all of them
	queues    []chan *chunk
	wg        sync.WaitGroup
	sums      map[string]string
	pieces    []string
	mu        sync.Mutex
	done      bool
}

// New starts a Digester for algs. pieceSize <= 0 turns piecewise hashing off.
func New(algs []string, pieceSize int64) *Digester {
	d := &Digester{algs: algs, pieceSize: pieceSize, sums: map[string]string{}}
	for _, alg := range algs {
		q := make(chan *chunk, queueDepth)
		d.queues = append(d.queues, q)
		d.wg.Add(1)
		go d.whole(alg, q)
	}
	if pieceSize > 0 && len(algs) > 0 {
		d.pieceAlg = PieceAlgorithm(algs)
		q := make(chan *chunk, queueDepth)
		d.queues = append(d.queues, q)
		d.wg.Add(1)
		go d.piecewise(q)
	}
	return d
}

func (d *Digester) whole(alg string, q <-chan *chunk) {
	defer d.wg.Done()
	h := newHash(alg)
	for c := range q {
		h.Write(c.buf)
		c.release()
	}
	d.mu.Lock()
	d.sums[alg] = hex.EncodeToString(h.Sum(nil))
	d.mu.Unlock()
}

func (d *Digester) piecewise(q <-chan *chunk) {
	defer d.wg.Done()
	h := newHash(d.pieceAlg)
	var inPiece int64
	var pieces []string
	for c := range q {
		b := c.buf
		for len(b) > 0 {
			n := min(int64(len(b)), d.pieceSize-inPiece)
			h.Write(b[:n])
			inPiece += n
			b = b[n:]
			if inPiece == d.pieceSize {
				pieces = append(pieces, hex.EncodeToString(h.Sum(nil)))
				h.Reset()
				inPiece = 0
			}
		}
		c.release()
	}
	if inPiece > 0 {
		pieces = append(pieces, hex.EncodeToString(h.Sum(nil)))
	}
	d.mu.Lock()
	d.pieces = pieces
	d.mu.Unlock()
}

// Write feeds p to every algorithm. It never fails.
func (d *Digester) Write(p []byte) (int, error) {
	n := len(p)
	d.size += int64(n)
	if len(d.queues) == 0 {
		return n, nil
	}
	d.hashed += int64(n) * int64(len(d.queues))
	for len(p) > 0 {
		c := chunkPool.Get().(*chunk)
		m := min(len(p), maxChunk)
		c.buf = append(c.buf[:0], p[:m]...)
		p = p[m:]
		d.send(c)
	}
	return n, nil
}

// send hands c to every worker; the last one returns it to the pool.
func (d *Digester) send(c *chunk) {
	c.refs.Store(int32(len(d.queues)))
	for _, q := range d.queues {
		q <- c
	}
}

// readFrom hashes r to its end, reading straight into the workers'
// chunks: a re-hash from disk copies each byte once, not twice.
func (d *Digester) readFrom(r io.Reader) error {
	for {
		c := chunkPool.Get().(*chunk)
		n, err := io.ReadFull(r, c.buf[:maxChunk])
		c.buf = c.buf[:n]
		if n > 0 {
			d.size += int64(n)
			if len(d.queues) == 0 {
				chunkPool.Put(c)
			} else {
				d.hashed += int64(n) * int64(len(d.queues))
				d.send(c)
			}
		} else {
			chunkPool.Put(c)
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return nil
		case err != nil:
			return err
		}
	}
}

// Close stops the workers without computing a result, for a Digester that
// is dropped (a file re-hashed from disk instead); Result after Close
// still returns what was hashed. Close is idempotent.
func (d *Digester) Close() {
	d.stop()
	d.wg.Wait()
}

func (d *Digester) stop() {
	if !d.done {
		d.done = true
		for _, q := range d.queues {
			close(q)
		}
	}
}

// Size is the number of bytes written so far.
func (d *Digester) Size() int64 { return d.size }

// Hashed is the number of bytes handed to hash functions so far: Size
// times the number of algorithms (piecewise hashing included). It is 0
// when no algorithm is selected, which lets callers and tests prove that
// "--hash none" hashed nothing.
func (d *Digester) Hashed() int64 { return d.hashed }

// Result stops the workers and returns the digests. Later Writes panic.
func (d *Digester) Result() Result {
	d.Close()
	d.mu.Lock()
	defer d.mu.Unlock()
	r := Result{Size: d.size, Sums: map[string]string{}}
	for k, v := range d.sums {
		r.Sums[k] = v
	}
	if d.pieceAlg != "" {
		r.PieceSize = d.pieceSize
		r.PieceAlgorithm = d.pieceAlg
		r.Pieces = slices.Clone(d.pieces)
	}
	return r
}

// Reader hashes everything read from r until it ends or ctx is
// cancelled: the context is checked before each read of at most a
// megabyte, so a re-hash of a whole disk image stops within one.
func Reader(ctx context.Context, r io.Reader, algs []string, pieceSize int64) (Result, error) {
	d := New(algs, pieceSize)
	err := d.readFrom(ctxReader{ctx, r})
	res := d.Result()
	return res, err
}

// ctxReader ends a read with ctx's error once ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// File re-hashes the file at path, as verification does at rest; ctx
// stops it as it stops [Reader].
func File(ctx context.Context, path string, algs []string, pieceSize int64) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	res, err := Reader(ctx, f, algs, pieceSize)
	if err != nil {
		return res, fmt.Errorf("hash %s: %w", path, err)
	}
	return res, nil
}
