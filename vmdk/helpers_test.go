package vmdk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/digest"
	"github.com/esxsink/esxsink/internal/peer"
)

const (
	kib = int64(1) << 10
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// run runs a peer program and fails the test with its output on error.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// runErr runs a peer program that is expected to fail and returns its
// output.
func runErr(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err == nil {
		t.Fatalf("%s %s succeeded, want failure\n%s", name, strings.Join(args, " "), out)
	}
	return string(out)
}

// region is a range of a generated raw image.
type region struct {
	off, n int64
	fill   byte // 'r' random, 'z' written zeros, any other byte repeated
}

// makeRaw writes a sparse raw image of size bytes holding regions; the
// rest are holes. Random bytes come from seed.
func makeRaw(t testing.TB, path string, size int64, seed uint64, regions ...region) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for _, r := range regions {
		if r.off < 0 || r.off+r.n > size {
			t.Fatalf("region %+v is outside the %d-byte image", r, size)
		}
		b := make([]byte, r.n)
		fillBytes(b, r.fill, rng)
		if _, err := f.WriteAt(b, r.off); err != nil {
			t.Fatal(err)
		}
	}
}

func fillBytes(b []byte, fill byte, rng *rand.Rand) {
	switch fill {
	case 'r':
		for i := 0; i+8 <= len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
		}
		for i := len(b) &^ 7; i < len(b); i++ {
			b[i] = byte(rng.Uint32())
		}
	case 'z':
		clear(b)
	default:
		for i := range b {
			b[i] = fill
		}
	}
}

// sha256File hashes a file at rest.
func sha256File(t testing.TB, path string) string {
	t.Helper()
	r, err := digest.File(context.Background(), path, []string{"sha256"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r.Sums["sha256"]
}

func sha256Bytes(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// convertFile opens path, converts it to out with SHA-256 only, checks
// that the digest reported equals the hash of the file written, and
// returns it.
func convertFile(t testing.TB, path, out string, o *Options) string {
	t.Helper()
	d, err := Open(path, o)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer d.Close()
	return convertDisk(t, d, out)
}

func convertDisk(t testing.TB, d *Disk, out string) string {
	t.Helper()
	hashes := []string{"sha256"}
	if d.Size() > 256*mib {
		hashes = []string{} // compared byte by byte instead
	}
	res, err := Convert(context.Background(), d, out, ConvertOptions{Hashes: hashes})
	if err != nil {
		t.Fatalf("convert %s: %v", d.Layers[0].Path, err)
	}
	if res.Size != d.Size() || res.Digest.Size != d.Size() {
		t.Fatalf("convert %s: result size %d, digest size %d, want %d", d.Layers[0].Path, res.Size, res.Digest.Size, d.Size())
	}
	// The digest must describe the file as written; re-hashing is cheap
	// for small outputs, and the big ones are compared byte by byte.
	if d.Size() <= 256*mib {
		if got := sha256File(t, out); got != res.Digest.Sums["sha256"] {
			t.Fatalf("convert %s: reported sha256 %s but the file hashes to %s", d.Layers[0].Path, res.Digest.Sums["sha256"], got)
		}
	}
	return res.Digest.Sums["sha256"]
}

// sameContent fails unless files a and b hold the same bytes; cheaper
// than hashing both for multi-GiB sparse files.
func sameContent(t testing.TB, a, b string) {
	t.Helper()
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	sa, _ := fa.Stat()
	sb, _ := fb.Stat()
	if sa.Size() != sb.Size() {
		t.Fatalf("%s is %d bytes, %s is %d", a, sa.Size(), b, sb.Size())
	}
	// Holes in both files are zeros in both: compare only the union of
	// the data ranges.
	ranges := append(dataRanges(t, fa, sa.Size()), dataRanges(t, fb, sb.Size())...)
	sort.Slice(ranges, func(i, j int) bool { return ranges[i][0] < ranges[j][0] })
	ba, bb := make([]byte, 4*mib), make([]byte, 4*mib)
	var done int64
	for _, r := range ranges {
		for off := max(r[0], done); off < r[1]; off += int64(len(ba)) {
			n := min(int64(len(ba)), r[1]-off)
			if _, err := fa.ReadAt(ba[:n], off); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if _, err := fb.ReadAt(bb[:n], off); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if !bytes.Equal(ba[:n], bb[:n]) {
				i := 0
				for ba[i] == bb[i] {
					i++
				}
				t.Fatalf("%s and %s differ at byte %d", a, b, off+int64(i))
			}
		}
		done = max(done, r[1])
	}
}

// qemuRawFile converts path with qemu-img to a raw file in a temporary
// folder.
func qemuRawFile(t testing.TB, qemu, path string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "qemu.raw")
	run(t, qemu, "convert", "-f", "vmdk", "-O", "raw", path, out)
	return out
}

// qemuRaw converts path with qemu-img to raw and returns the hash.
func qemuRaw(t testing.TB, qemu, path string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "qemu.raw")
	run(t, qemu, "convert", "-f", "vmdk", "-O", "raw", path, out)
	h := sha256File(t, out)
	os.Remove(out)
	return h
}

func requireQemu(t testing.TB) string { return peer.Require(t, "qemu-img") }

// wantErr fails unless err matches target and mentions every word: the
// kind of error is target's to tell, and words are checked only for what
// the examiner reads in it (the file, the line, the flag that helps).
func wantErr(t testing.TB, err, target error, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", target)
	}
	if target != nil && !errors.Is(err, target) {
		t.Fatalf("error %q does not match %v", err, target)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not mention %q", err, w)
		}
	}
}

// compareMapWithQemu checks d's allocation map against qemu-img map:
// per run, the answering depth, whether it is present, and whether it
// reads as stored data or as zeros. (qemu marks the holes of a flat file
// "zero" and "data" at once; we call them zero.)
func compareMapWithQemu(t testing.TB, qemu, path string, d *Disk) {
	t.Helper()
	var qm []struct {
		Start, Length int64
		Depth         int
		Present, Zero bool
		Data          bool
	}
	if err := json.Unmarshal([]byte(run(t, qemu, "map", "--output=json", path)), &qm); err != nil {
		t.Fatal(err)
	}
	type span struct {
		start, end          int64
		depth               int
		present, zero, data bool
	}
	merge := func(s []span, x span) []span {
		if n := len(s); n > 0 && s[n-1].end == x.start && s[n-1].depth == x.depth && s[n-1].present == x.present && s[n-1].zero == x.zero && s[n-1].data == x.data {
			s[n-1].end = x.end
			return s
		}
		return append(s, x)
	}
	var theirs, ours []span
	for _, m := range qm {
		theirs = merge(theirs, span{m.Start, m.Start + m.Length, m.Depth, m.Present, m.Zero || !m.Data, m.Data && !m.Zero})
	}
	for off := int64(0); off < d.Size(); {
		r, err := d.MapRun(off, d.Size()-off)
		if err != nil {
			t.Fatal(err)
		}
		depth := r.Depth
		if r.State == Unallocated {
			depth = len(d.Layers) - 1 // qemu reports the bottom layer
		}
		ours = merge(ours, span{off, off + r.Length, depth, r.State != Unallocated, r.State != Data, r.State == Data})
		off += r.Length
	}
	if fmt.Sprint(ours) != fmt.Sprint(theirs) {
		t.Errorf("allocation map of %s differs from qemu-img map:\nours %v\nqemu %v", path, ours, theirs)
	}
}
