package nfssink

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esxsink/esxsink/custody"
)

func pseudoRandom(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// TestShuffledConcurrentWrites writes a file in shuffled chunks from
// several goroutines over one connection. The hashes must equal the
// content's, computed as the bytes arrived (not from disk), and the sink's
// heap must not grow with the file: gaps are read back from disk, not
// buffered. Not parallel: the heap it measures is the whole process's,
// and other tests running beside it made it fail now and then.
func TestShuffledConcurrentWrites(t *testing.T) {
	ts := newTestSink(t, func(c *Config) { c.PieceSize = 4 << 20 })
	size := 96<<20 + 777
	if testing.Short() {
		size = 8<<20 + 777
	}
	data := pseudoRandom(size, 7)
	c := dialRPC(t, ts.NFSAddr().String())
	_, root := c.mount("/esxsink")
	st, fh := c.create(root, "shuffled.bin", createGuarded)
	if st != nfs3OK {
		t.Fatalf("create: %d", st)
	}
	const chunk = 256 << 10
	var offs []int
	for off := 0; off < size; off += chunk {
		offs = append(offs, off)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	rng.Shuffle(len(offs), func(i, j int) { offs[i], offs[j] = offs[j], offs[i] })
	// The first chunk last: everything stays pending until then.
	for i, o := range offs {
		if o == 0 {
			offs[i], offs[len(offs)-1] = offs[len(offs)-1], offs[i]
		}
	}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				// Live heap only: collect first so garbage does not count.
				runtime.GC()
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > peak.Load() {
					peak.Store(m.HeapAlloc)
				}
			}
		}
	}()
	work := make(chan int)
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for off := range work {
				end := min(off+chunk, size)
				st, n, _, _, err := c.write(fh, uint64(off), data[off:end], unstable)
				if err != nil || st != nfs3OK || int(n) != end-off {
					// Never a nil error: atomic.Value panics on Store(nil).
					failed.Store(fmt.Errorf("write at %d: status %d, %d of %d bytes: %v", off, st, n, end-off, err))
					return
				}
			}
		}()
	}
	// Everything but the first chunk concurrently, then the first one.
	for _, o := range offs[:len(offs)-1] {
		work <- o
	}
	close(work)
	wg.Wait()
	if st, _, _, _, err := c.write(fh, 0, data[:chunk], fileSync); err != nil || st != nfs3OK {
		t.Fatalf("first chunk: %d %v", st, err)
	}
	close(stop)
	if v := failed.Load(); v != nil {
		t.Fatalf("write failed: %v", v)
	}
	res, err := ts.Finalize(context.Background(), "shuffled.bin", "api", int64(size), false)
	if err != nil {
		t.Fatal(err)
	}
	m := md5.Sum(data)
	s := sha256.Sum256(data)
	if res.Hashes["md5"] != hex.EncodeToString(m[:]) || res.Hashes["sha256"] != hex.EncodeToString(s[:]) {
		t.Fatalf("hashes wrong: %v", res.Hashes)
	}
	if res.FromDisk || len(res.Anomalies) != 0 {
		t.Fatalf("expected streamed hashes without anomalies, got from_disk=%v %v", res.FromDisk, res.Anomalies)
	}
	if want := (size + 4<<20 - 1) / (4 << 20); len(res.Pieces) != want {
		t.Fatalf("%d pieces, want %d", len(res.Pieces), want)
	}
	for i, got := range res.Pieces {
		p := sha256.Sum256(data[i*4<<20 : min((i+1)*4<<20, len(data))])
		if got != hex.EncodeToString(p[:]) || res.PieceAlgorithm != "sha256" || res.PieceSize != 4<<20 {
			t.Fatalf("piece %d: %s (%s, %d), want sha256 %x", i, got, res.PieceAlgorithm, res.PieceSize, p)
		}
	}
	if res.AtRest["sha256"] != res.Hashes["sha256"] {
		t.Fatalf("finalize without asking for it still checks at rest: at rest %v, arrival %v", res.AtRest, res.Hashes)
	}
	grow := int64(peak.Load()) - int64(base.HeapAlloc)
	// The client holds its own copy of the data in this process; the sink
	// may add buffers, but not a second copy of the file.
	if limit := int64(48 << 20); grow > limit {
		t.Fatalf("heap grew by %d MiB while writing a %d MiB file: gaps are being buffered", grow>>20, size>>20)
	}
	t.Logf("heap growth during write: %d MiB for a %d MiB file", grow>>20, size>>20)
}

// TestRewriteOfHashedRange: an identical resend is harmless; different
// bytes over a hashed range are an anomaly, recorded, and the final hash
// is recomputed from disk so it matches the content.
func TestRewriteOfHashedRange(t *testing.T) {
	t.Parallel()
	ts := newTestSink(t, nil)
	c := dialRPC(t, ts.NFSAddr().String())
	_, root := c.mount("/esxsink")
	_, fh := c.create(root, "rewrite.bin", createUnchecked)
	data := pseudoRandom(3<<20, 3)
	for off := 0; off < len(data); off += 1 << 20 {
		if st, _, _, _, err := c.write(fh, uint64(off), data[off:off+1<<20], unstable); st != nfs3OK || err != nil {
			t.Fatal(st, err)
		}
	}
	// Identical resend of the middle megabyte.
	c.write(fh, 1<<20, data[1<<20:2<<20], unstable)
	if n := len(ts.log.of(custody.TypeWriteAnomaly)); n != 0 {
		t.Fatalf("identical resend recorded as %d anomalies", n)
	}
	changed := bytes.Repeat([]byte{0xAB}, 4096)
	if st, _, _, _, _ := c.write(fh, 5000, changed, unstable); st != nfs3OK {
		t.Fatalf("rewrite refused: %d", st)
	}
	copy(data[5000:], changed)
	if n := len(ts.log.of(custody.TypeWriteAnomaly)); n != 1 {
		t.Fatalf("%d anomaly records, want 1", n)
	}
	res, err := ts.Finalize(context.Background(), "rewrite.bin", "api", -1, false)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	if res.Hashes["sha256"] != hex.EncodeToString(s[:]) || !res.FromDisk || len(res.Anomalies) == 0 {
		t.Fatalf("after rewrite: sha256 ok=%v from_disk=%v anomalies=%v", res.Hashes["sha256"] == hex.EncodeToString(s[:]), res.FromDisk, res.Anomalies)
	}
}

// TestHolesAreHashedAsZeros: a file written with a gap that never closes
// (a sparse copy) hashes as the file on disk reads, zeros in the hole.
func TestHolesAreHashedAsZeros(t *testing.T) {
	t.Parallel()
	ts := newTestSink(t, nil)
	c := dialRPC(t, ts.NFSAddr().String())
	_, root := c.mount("/esxsink")
	_, fh := c.create(root, "sparse.bin", createUnchecked)
	a := pseudoRandom(65536, 1)
	b := pseudoRandom(65536, 2)
	c.write(fh, 0, a, unstable)
	c.write(fh, 1<<20, b, unstable)
	res, err := ts.Finalize(context.Background(), "sparse.bin", "api", 1<<20+65536, true)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 1<<20+65536)
	copy(want, a)
	copy(want[1<<20:], b)
	s := sha256.Sum256(want)
	if res.Hashes["sha256"] != hex.EncodeToString(s[:]) || len(res.Anomalies) != 0 || !atRestMatches(res, res.Hashes) {
		t.Fatalf("sparse file: %+v", res)
	}
}

// TestStabilityIsHonest: UNSTABLE writes are answered UNSTABLE, FILE_SYNC
// writes FILE_SYNC, and COMMIT returns the same verifier as WRITE.
func TestStabilityIsHonest(t *testing.T) {
	t.Parallel()
	ts := newTestSink(t, nil)
	c := dialRPC(t, ts.NFSAddr().String())
	_, root := c.mount("/esxsink")
	_, fh := c.create(root, "s.bin", createUnchecked)
	_, _, committed, verf, _ := c.write(fh, 0, []byte("hello"), unstable)
	if committed != unstable {
		t.Fatalf("UNSTABLE write answered %d", committed)
	}
	_, _, committed, verf2, _ := c.write(fh, 5, []byte("world"), fileSync)
	if committed != fileSync {
		t.Fatalf("FILE_SYNC write answered %d", committed)
	}
	st, cverf := c.commit(fh)
	if st != nfs3OK || !bytes.Equal(verf, cverf) || !bytes.Equal(verf, verf2) || hex.EncodeToString(verf) != ts.Verifier() {
		t.Fatalf("verifiers differ: write %x commit %x sink %s", verf, cverf, ts.Verifier())
	}
	got, _ := os.ReadFile(filepath.Join(ts.evidence, "s.bin"))
	if string(got) != "helloworld" {
		t.Fatalf("content %q", got)
	}
}

// brokenLog is a custody log whose disk fails once broken is set.
type brokenLog struct {
	memLog
	broken atomic.Bool
}

func (l *brokenLog) Append(typ string, data any) (custody.Record, error) {
	if l.broken.Load() {
		return custody.Record{}, errors.New("write custody.jsonl: input/output error")
	}
	return l.memLog.Append(typ, data)
}

// TestNoEvidenceWithoutCustody: once the custody log cannot be written,
// the sink accepts no more evidence: WRITE gets NFS3ERR_IO and
// finalization fails with ErrCustodyLog, never a file without its record.
func TestNoEvidenceWithoutCustody(t *testing.T) {
	t.Parallel()
	log := &brokenLog{}
	ts := startTestSink(t, t.TempDir(), log, nil)
	c := dialRPC(t, ts.NFSAddr().String())
	_, root := c.mount("/esxsink")
	_, fh := c.create(root, "disk-flat.vmdk", createGuarded)
	if st, _, _, _, err := c.write(fh, 0, []byte("first block"), unstable); err != nil || st != nfs3OK {
		t.Fatalf("write before the failure: %d %v", st, err)
	}
	log.broken.Store(true)
	_, fh2 := c.create(root, "other.log", createGuarded) // its file.created record fails
	for _, h := range [][]byte{fh, fh2} {
		if st, _, _, _, err := c.write(h, 11, []byte("more"), unstable); err != nil || st != nfs3ErrIO {
			t.Errorf("write after the custody log failed: status %d (%v), want NFS3ERR_IO", st, err)
		}
	}
	if _, err := ts.Finalize(context.Background(), "disk-flat.vmdk", "api", -1, true); !errors.Is(err, ErrCustodyLog) {
		t.Errorf("finalize after the custody log failed: %v, want ErrCustodyLog", err)
	}
}

// TestFinalizeStoppedByContext: a cancelled context stops the re-reads
// from disk. Stopped in the at-rest check, the file is finalized and
// recorded with its hashes on arrival and no at-rest hashes; a later
// Finalize that asks for the at-rest check does it.
func TestFinalizeStoppedByContext(t *testing.T) {
	t.Parallel()
	ts := newTestSink(t, nil)
	c := dialRPC(t, ts.NFSAddr().String())
	_, root := c.mount("/esxsink")
	_, fh := c.create(root, "stopped.bin", createUnchecked)
	data := pseudoRandom(1<<20, 7)
	for off := 0; off < len(data); off += 65536 {
		c.write(fh, uint64(off), data[off:off+65536], unstable)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := ts.Finalize(ctx, "stopped.bin", "api", int64(len(data)), true)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errAtRestStopped) {
		t.Fatalf("cancelled finalize: %v", err)
	}
	s := sha256.Sum256(data)
	if res.Hashes["sha256"] != hex.EncodeToString(s[:]) || res.AtRest != nil || len(res.Pieces) != 0 || len(res.Anomalies) != 0 {
		t.Fatalf("cancelled finalize result: %+v", res)
	}
	again, err := ts.Finalize(context.Background(), "stopped.bin", "api", int64(len(data)), true)
	if err != nil || again.AtRest["sha256"] != again.Hashes["sha256"] || again.Hashes["sha256"] != res.Hashes["sha256"] || len(again.Anomalies) != 0 {
		t.Fatalf("finalize after the stopped one: %+v %v", again, err)
	}
	// The pieces come with the at-rest check the stop cut short.
	if len(again.Pieces) != 1 || again.Pieces[0] != hex.EncodeToString(s[:]) {
		t.Fatalf("pieces after the at-rest check: %v", again.Pieces)
	}
}
