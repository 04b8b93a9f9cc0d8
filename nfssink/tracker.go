package nfssink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/internal/durable"

	"github.com/esxsink/esxsink/digest"
	"github.com/esxsink/esxsink/hashlog"
)

// maxPending bounds how fragmented the not-yet-hashed part of a file may
// get. A client that scatters more ranges than this is served on, but its
// file is hashed from disk at finalization instead of as it arrives.
const maxPending = 1 << 16

// tracker follows one evidence file while it is being written: a cached
// descriptor for positional writes, the hashed prefix (watermark), the
// ranges waiting beyond it, and what went wrong.
type tracker struct {
	rel     string
	f       *os.File
	algs    []string
	created time.Time
	space   *spaceGuard

	mu        sync.Mutex
	dig       *digest.Digester
	watermark int64     // bytes [0, watermark) have gone to dig
	pending   intervals // written ranges beyond the watermark
	size      int64     // file size as the sink knows it
	received  int64     // bytes received, rewrites included
	writeGen  uint64    // counts writes; syncedGen is the last one made durable
	syncedGen uint64
	syncMu    sync.Mutex // one fsync at a time; writes go on meanwhile
	rehash    bool       // the streamed digest is void; hash from disk at finalization
	anomalies []string
	lastWrite time.Time
	rate      rateMeter
	done      bool
	identical int64 // bytes rewritten with the same content (client resends)
	// writeback is how far the kernel was asked to start writing the
	// file to disk (durable.StartWriteback), so that the client's COMMIT
	// finds little left to flush.
	writeback int64
}

// writebackStep is how much new data makes the sink ask the kernel to
// start writing it to disk.
const writebackStep = 8 << 20

func (t *tracker) anomaly(format string, args ...any) string {
	msg := fmt.Sprintf(format, args...)
	t.anomalies = append(t.anomalies, msg)
	return msg
}

// write stores data at off and feeds the hashers. It returns the bytes
// written, an anomaly text when the write changed already-hashed bytes,
// and the write error.
func (t *tracker) write(off int64, data []byte) (n int, anomaly string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return 0, "", errFinalized
	}
	end := off + int64(len(data))
	if !t.rehash && off < t.watermark {
		// A client may resend data it already sent (after a reconnect or a
		// verifier change): harmless if identical. Different bytes over a
		// hashed range invalidate the streamed digest.
		overlap := min(end, t.watermark) - off
		same, rerr := t.sameOnDisk(off, data[:overlap])
		if rerr != nil || !same {
			anomaly = t.anomaly("rewrite of already-hashed bytes %d-%d with different data; file will be re-hashed from disk", off, off+overlap)
			t.rehash = true
		} else {
			t.identical += overlap
		}
	}
	if err := t.space.admit(end - max(t.size, off)); err != nil {
		return 0, anomaly, err
	}
	n, err = t.f.WriteAt(data, off)
	if n > 0 {
		t.received += int64(n)
		t.size = max(t.size, off+int64(n))
		t.writeGen++
		t.lastWrite = time.Now()
		t.rate.add(t.lastWrite, int64(n))
		if !t.rehash {
			t.advance(off, data[:n])
		}
		if t.size-t.writeback >= writebackStep {
			durable.StartWriteback(t.f, t.writeback, t.size-t.writeback)
			t.writeback = t.size
		}
	}
	return n, anomaly, err
}

func (t *tracker) sameOnDisk(off int64, data []byte) (bool, error) {
	buf := make([]byte, len(data))
	if _, err := t.f.ReadAt(buf, off); err != nil {
		return false, err
	}
	return bytes.Equal(buf, data), nil
}

// advance feeds the in-order part of a write to the hashers, or notes it
// for later, and closes any gaps it completes by reading them back.
func (t *tracker) advance(off int64, data []byte) {
	end := off + int64(len(data))
	if end <= t.watermark {
		return
	}
	if off > t.watermark {
		t.pending.add(off, end)
		if t.pending.len() > maxPending {
			t.anomaly("more than %d separate unhashed ranges; file will be hashed from disk at finalization", maxPending)
			t.rehash = true
		}
		return
	}
	t.dig.Write(data[t.watermark-off:])
	t.watermark = end
	if reach := t.pending.popThrough(t.watermark); reach > t.watermark {
		if err := t.feedFromDisk(t.watermark, reach); err != nil {
			t.anomaly("read back %d-%d for hashing: %v; file will be re-hashed from disk", t.watermark, reach, err)
			t.rehash = true
			return
		}
	}
}

// feedFromDisk hashes [from, to) as it is on disk, a megabyte at a time.
func (t *tracker) feedFromDisk(from, to int64) error {
	buf := make([]byte, min(to-from, 1<<20))
	for from < to {
		n := min(int64(len(buf)), to-from)
		if _, err := t.f.ReadAt(buf[:n], from); err != nil && err != io.EOF {
			return err
		}
		t.dig.Write(buf[:n])
		from += n
		t.watermark = from
	}
	return nil
}

// errFinalized is returned by write when the tracker was finalized while
// the write waited for it; the caller takes up the file again.
var errFinalized = errors.New("file was finalized")

// sync makes everything written so far durable. Writes continue while the
// fsync runs, and callers that arrive during one wait for it and then find
// their data covered, so FILE_SYNC writes and COMMITs share syncs.
func (t *tracker) sync() error {
	t.mu.Lock()
	target := t.writeGen
	covered := t.syncedGen >= target || t.done
	t.mu.Unlock()
	if covered {
		return nil
	}
	t.syncMu.Lock()
	defer t.syncMu.Unlock()
	t.mu.Lock()
	if t.syncedGen >= target || t.done {
		t.mu.Unlock()
		return nil
	}
	gen := t.writeGen
	t.mu.Unlock()
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", t.rel, err)
	}
	t.mu.Lock()
	t.syncedGen = max(t.syncedGen, gen)
	t.mu.Unlock()
	return nil
}

// syncLocked syncs with t.mu held, for finalization.
func (t *tracker) syncLocked() error {
	if t.syncedGen >= t.writeGen || t.done {
		return nil
	}
	t.syncMu.Lock()
	defer t.syncMu.Unlock()
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", t.rel, err)
	}
	t.syncedGen = t.writeGen
	return nil
}

// errAtRestStopped says finalize completed and closed the file but its
// at-rest check was stopped by the context: the result holds the hashes
// on arrival and no at-rest hashes.
var errAtRestStopped = errors.New("the at-rest check was stopped")

// finalize syncs the file, completes its hashes and closes it.
// expectedSize < 0 means no expectation. Unless the file is re-hashed
// from disk anyway, finalize reads the synced file once more: the
// strongest hash at rest must equal the one on arrival, and the same pass
// takes the piece hashes, which therefore describe the bytes that arrived.
// ctx stops the re-reads from disk: stopped in a re-hash, the file is
// closed unfinalized (a later Finalize takes it up from disk) and the
// error is ctx's; stopped in the at-rest pass, the result holds the hashes
// on arrival and neither at-rest nor piece hashes, and the error is
// errAtRestStopped.
func (t *tracker) finalize(ctx context.Context, reason string, expectedSize int64, pieceSize int64) (custody.FileFinalized, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := custody.FileFinalized{Path: t.rel, Reason: reason}
	if t.done {
		return out, fmt.Errorf("%s is already finalized", t.rel)
	}
	if err := t.syncLocked(); err != nil {
		return out, err
	}
	fi, err := t.f.Stat()
	if err != nil {
		return out, fmt.Errorf("stat %s: %w", t.rel, err)
	}
	t.size = fi.Size()
	if expectedSize >= 0 && expectedSize != t.size {
		t.anomaly("expected %d bytes, file has %d", expectedSize, t.size)
	}
	if !t.rehash && t.watermark < t.size {
		// Unwritten holes and gaps still open are whatever the disk holds
		// (zeros for holes): hash that, so the digest describes the file.
		if err := t.feedFromDisk(t.watermark, t.size); err != nil {
			t.anomaly("read back for hashing: %v", err)
			t.rehash = true
		}
	}
	var res digest.Result
	var atRest map[string]string
	var stopped error
	if t.rehash {
		t.dig.Close() // the streamed digest is void: stop its workers
		if res, err = t.hashFromDisk(ctx, pieceSize); err != nil {
			if ctx.Err() != nil {
				t.done = true
				t.f.Close()
			}
			return out, err
		}
		atRest = res.Sums // computed from disk already, after the sync
	} else {
		res = t.dig.Result()
		if alg := digest.PieceAlgorithm(t.algs); alg != "" {
			disk, err := digest.Reader(ctx, io.NewSectionReader(t.f, 0, t.size), []string{alg}, pieceSize)
			switch {
			case err != nil && ctx.Err() != nil:
				stopped = fmt.Errorf("%w: %w", errAtRestStopped, ctx.Err())
			case err != nil:
				return out, fmt.Errorf("hash %s from disk: %w", t.rel, err)
			default:
				atRest = disk.Sums
				res.PieceSize, res.PieceAlgorithm, res.Pieces = disk.PieceSize, disk.PieceAlgorithm, disk.Pieces
				if disk.Sums[alg] != res.Sums[alg] {
					t.anomaly("%s at rest %s differs from %s on arrival %s; the piece hashes describe the file at rest", alg, disk.Sums[alg], alg, res.Sums[alg])
				}
			}
		}
	}
	out = hashlog.NewFileFinalized(t.rel, res, reason, t.anomalies)
	out.AtRest, out.Received, out.FromDisk = atRest, t.received, t.rehash
	t.done = true
	if err := t.f.Close(); err != nil {
		return out, fmt.Errorf("close %s: %w", t.rel, err)
	}
	return out, stopped
}

func (t *tracker) hashFromDisk(ctx context.Context, pieceSize int64) (digest.Result, error) {
	res, err := digest.Reader(ctx, io.NewSectionReader(t.f, 0, t.size), t.algs, pieceSize)
	if err != nil {
		return res, fmt.Errorf("hash %s from disk: %w", t.rel, err)
	}
	return res, nil
}

// fileStatus is a tracker's state for the control API.
type fileStatus struct {
	Path      string   `json:"path"`
	State     string   `json:"state"`
	Size      int64    `json:"size"`
	Received  int64    `json:"received"`
	Hashed    int64    `json:"hashed"`
	RateBps   float64  `json:"rate_bytes_per_second"`
	LastWrite string   `json:"last_write,omitempty"`
	Anomalies []string `json:"anomalies,omitempty"`
}

func (t *tracker) status(now time.Time) fileStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := fileStatus{Path: t.rel, State: "receiving", Size: t.size, Received: t.received, Hashed: t.watermark,
		RateBps: t.rate.perSecond(now), Anomalies: append([]string(nil), t.anomalies...)}
	if !t.lastWrite.IsZero() {
		st.LastWrite = t.lastWrite.UTC().Format(time.RFC3339Nano)
	}
	return st
}

func (t *tracker) idleSince() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lastWrite.IsZero() {
		return t.created
	}
	return t.lastWrite
}

// rateMeter keeps a short window of throughput for progress display.
type rateMeter struct {
	slots [8]struct {
		sec   int64
		bytes int64
	}
}

func (m *rateMeter) add(now time.Time, n int64) {
	s := now.Unix()
	slot := &m.slots[s%int64(len(m.slots))]
	if slot.sec != s {
		slot.sec, slot.bytes = s, 0
	}
	slot.bytes += n
}

// perSecond averages the last few complete seconds.
func (m *rateMeter) perSecond(now time.Time) float64 {
	s := now.Unix()
	var total int64
	const window = 4
	for _, slot := range m.slots {
		if slot.sec < s && slot.sec >= s-window {
			total += slot.bytes
		}
	}
	return float64(total) / window
}
