package nfsclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ErrVerifierChanged means the server's write verifier changed between a
// WRITE and the COMMIT: it restarted and may have lost unstable data.
var ErrVerifierChanged = errors.New("NFS: write verifier changed (server restarted): unstable writes may be lost")

// WriterOptions tune a FileWriter.
type WriterOptions struct {
	// InFlight is the most WRITEs outstanding at once (default 8).
	InFlight int
	// Chunk is the largest WRITE (default 64 KiB, ESXi's usual size;
	// capped at the server's wtmax when known).
	Chunk int
	// Stable is each WRITE's stability; Unstable WRITEs are committed by
	// Close (default Unstable).
	Stable Stable
}

// FileWriter writes a file with several WRITEs in flight. WriteAt copies
// its data and returns at once; an error of any WRITE is sticky and
// returned by later calls and by Close. It is safe for concurrent use.
type FileWriter struct {
	c      *Client
	ctx    context.Context
	fh     FileHandle
	chunk  int
	stable Stable
	sem    chan struct{}
	wg     sync.WaitGroup
	pool   sync.Pool

	mu       sync.Mutex
	err      error
	verf     [8]byte
	haveVerf bool
	dirty    bool

	acked atomic.Int64
}

// NewWriter returns a writer for fh. ctx bounds every WRITE and COMMIT.
func (c *Client) NewWriter(ctx context.Context, fh FileHandle, o WriterOptions) *FileWriter {
	if o.InFlight <= 0 {
		o.InFlight = 8
	}
	if o.Chunk <= 0 {
		o.Chunk = 64 << 10
	}
	w := &FileWriter{c: c, ctx: ctx, fh: fh, chunk: o.Chunk, stable: o.Stable, sem: make(chan struct{}, o.InFlight)}
	w.pool.New = func() any { b := make([]byte, w.chunk); return &b }
	return w
}

// Err returns the first error any WRITE met.
func (w *FileWriter) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *FileWriter) setErr(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

// Acked is the number of bytes the server has acknowledged.
func (w *FileWriter) Acked() int64 { return w.acked.Load() }

// WriteAt queues p for writing at off. It blocks only while InFlight
// WRITEs are outstanding.
func (w *FileWriter) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("NFS write: negative offset")
	}
	for done := 0; done < len(p); {
		if err := w.Err(); err != nil {
			return done, err
		}
		n := min(len(p)-done, w.chunk)
		select {
		case w.sem <- struct{}{}:
		case <-w.ctx.Done():
			return done, w.ctx.Err()
		}
		bp := w.pool.Get().(*[]byte)
		buf := (*bp)[:n]
		copy(buf, p[done:done+n])
		w.wg.Add(1)
		go w.send(bp, buf, uint64(off)+uint64(done))
		done += n
	}
	return len(p), nil
}

func (w *FileWriter) send(bp *[]byte, buf []byte, off uint64) {
	defer func() {
		w.pool.Put(bp)
		<-w.sem
		w.wg.Done()
	}()
	for len(buf) > 0 {
		if w.Err() != nil {
			return
		}
		r, err := w.c.Write(w.ctx, w.fh, off, buf, w.stable)
		if err != nil {
			w.setErr(err)
			return
		}
		if r.Count == 0 || int(r.Count) > len(buf) {
			w.setErr(fmt.Errorf("NFS WRITE at %d: server wrote %d of %d bytes", off, r.Count, len(buf)))
			return
		}
		w.mu.Lock()
		if r.Committed == Unstable {
			w.dirty = true
		}
		if !w.haveVerf {
			w.verf, w.haveVerf = r.Verifier, true
		} else if w.verf != r.Verifier && w.err == nil {
			w.err = ErrVerifierChanged
		}
		w.mu.Unlock()
		w.acked.Add(int64(r.Count))
		buf = buf[r.Count:]
		off += uint64(r.Count)
	}
}

// Flush waits for every queued WRITE.
func (w *FileWriter) Flush() error {
	w.wg.Wait()
	return w.Err()
}

// Close waits for every WRITE, commits unstable data and checks that the
// verifier did not change.
func (w *FileWriter) Close() error {
	if err := w.Flush(); err != nil {
		return err
	}
	w.mu.Lock()
	dirty, verf, have := w.dirty, w.verf, w.haveVerf
	w.mu.Unlock()
	if !dirty {
		return nil
	}
	v, err := w.c.Commit(w.ctx, w.fh, 0, 0)
	if err != nil {
		return err
	}
	if have && v != verf {
		return ErrVerifierChanged
	}
	return nil
}
