package digest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

func TestDigesterMatchesStdlib(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 5<<20+123)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	d := New([]string{"md5", "sha1", "sha256"}, 1<<20)
	// Irregular write sizes, including ones larger than a chunk.
	for off := 0; off < len(data); {
		n := min(len(data)-off, 1+rng.IntN(3<<20))
		d.Write(data[off : off+n])
		off += n
	}
	r := d.Result()
	m := md5.Sum(data)
	s1 := sha1.Sum(data)
	s := sha256.Sum256(data)
	if r.Sums["md5"] != hex.EncodeToString(m[:]) || r.Sums["sha1"] != hex.EncodeToString(s1[:]) || r.Sums["sha256"] != hex.EncodeToString(s[:]) {
		t.Fatalf("sums differ from stdlib: %v", r.Sums)
	}
	if r.Size != int64(len(data)) {
		t.Fatalf("size %d, want %d", r.Size, len(data))
	}
	if len(r.Pieces) != 6 || r.PieceAlgorithm != "sha256" {
		t.Fatalf("pieces %d alg %s, want 6 sha256", len(r.Pieces), r.PieceAlgorithm)
	}
	for i, p := range r.Pieces {
		end := min(len(data), (i+1)<<20)
		want := sha256.Sum256(data[i<<20 : end])
		if p != hex.EncodeToString(want[:]) {
			t.Fatalf("piece %d wrong", i)
		}
	}
	again, err := Reader(context.Background(), bytes.NewReader(data), []string{"md5", "sha1", "sha256"}, 1<<20)
	if err != nil || !again.Equal(r) || len(again.BadPieces(r)) != 0 {
		t.Fatalf("Reader disagrees: %v %v", err, again.BadPieces(r))
	}
	data[3<<20+5] ^= 1
	changed, _ := Reader(context.Background(), bytes.NewReader(data), []string{"md5", "sha256"}, 1<<20)
	if changed.Equal(r) {
		t.Fatal("changed byte not detected")
	}
	if bad := changed.BadPieces(r); len(bad) != 1 || bad[0] != 3 {
		t.Fatalf("bad pieces %v, want [3]", bad)
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	got, err := Parse("SHA256, md5,md5")
	if err != nil || len(got) != 2 || got[0] != "md5" || got[1] != "sha256" {
		t.Fatalf("Parse = %v, %v", got, err)
	}
	if _, err := Parse("crc32"); err == nil {
		t.Fatal("crc32 accepted")
	}
	if got, _ := Parse("none"); got == nil || len(got) != 0 {
		t.Fatal("none should disable hashing: an empty, non-nil list (nil means the defaults to callers)")
	}
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	r := New([]string{"md5"}, 4096).Result()
	if r.Sums["md5"] != "d41d8cd98f00b204e9800998ecf8427e" || len(r.Pieces) != 0 {
		t.Fatalf("empty stream: %+v", r)
	}
}

func BenchmarkDigesterMD5SHA256(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)) * 64)
	for b.Loop() {
		d := New([]string{"md5", "sha256"}, DefaultPieceSize)
		for range 64 {
			d.Write(buf)
		}
		d.Result()
	}
}

// "none" must mean no hashing, never "the caller's defaults": Parse returns
// an empty, non-nil list, and a Digester over it hashes nothing.
func TestParseNone(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"none", " NONE ", ""} {
		algs, err := Parse(s)
		if err != nil || algs == nil || len(algs) != 0 {
			t.Fatalf("Parse(%q) = %#v, %v; want an empty non-nil list", s, algs, err)
		}
	}
	algs, _ := Parse("none")
	d := New(algs, 1<<20)
	d.Write(make([]byte, 3<<20))
	r := d.Result()
	if d.Hashed() != 0 || len(r.Sums) != 0 || len(r.Pieces) != 0 || r.Size != 3<<20 {
		t.Fatalf("hash none: hashed %d bytes, result %+v", d.Hashed(), r)
	}
	d = New([]string{"md5", "sha256"}, 0)
	d.Write(make([]byte, 1000))
	d.Result()
	if d.Hashed() != 2000 {
		t.Fatalf("two algorithms over 1000 bytes: hashed %d, want 2000", d.Hashed())
	}
	if algs, _ := Parse("sha256,md5"); algs == nil || len(algs) != 2 {
		t.Fatalf("Parse(sha256,md5) = %v", algs)
	}
}

// Reader fills the workers' chunks straight from the reader: whatever the
// length (empty, around a chunk boundary, several chunks), its sums and
// pieces equal those of Write and of crypto/sha256 over the same bytes.
func TestReaderMatchesWrite(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, maxChunk - 1, maxChunk, maxChunk + 1, 3*maxChunk + 5} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*7 + i>>9)
		}
		got, err := Reader(context.Background(), bytes.NewReader(data), []string{"md5", "sha256"}, 1<<20+3)
		if err != nil {
			t.Fatal(err)
		}
		d := New([]string{"md5", "sha256"}, 1<<20+3)
		d.Write(data)
		want := d.Result()
		s := sha256.Sum256(data)
		if got.Size != int64(n) || !got.Equal(want) || got.Sums["sha256"] != hex.EncodeToString(s[:]) || len(got.BadPieces(want)) != 0 {
			t.Errorf("%d bytes: Reader %+v, Write %+v", n, got, want)
		}
	}
}
