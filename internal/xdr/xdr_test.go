package xdr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func sample() *Encoder {
	e := NewEncoder(nil)
	e.Uint32(0xdeadbeef)
	e.Uint64(1<<40 + 5)
	e.Bool(true)
	e.Opaque([]byte{1, 2, 3, 4, 5})
	e.String("vm one")
	e.Fixed([]byte("verif"))
	return e
}

// TestRoundTrip decodes what the encoder wrote, padding included.
func TestRoundTrip(t *testing.T) {
	e := sample()
	if e.Len()%4 != 0 {
		t.Fatalf("encoded %d bytes, not a multiple of four", e.Len())
	}
	d := NewDecoder(e.Bytes())
	u32, _ := d.Uint32()
	u64, _ := d.Uint64()
	b, _ := d.Bool()
	op, _ := d.Opaque(5)
	s, _ := d.String(64)
	fx, _ := d.Fixed(5)
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	if u32 != 0xdeadbeef || u64 != 1<<40+5 || !b || !bytes.Equal(op, []byte{1, 2, 3, 4, 5}) || s != "vm one" || string(fx) != "verif" {
		t.Fatalf("decoded %x %d %v %v %q %q", u32, u64, b, op, s, fx)
	}
	if d.Remaining() != 0 {
		t.Fatalf("%d bytes left", d.Remaining())
	}
}

// TestTruncated cuts the sample at every length: decoding fails with
// ErrShort at the cut, never panics, and the error sticks.
func TestTruncated(t *testing.T) {
	full := sample().Bytes()
	for n := 0; n < len(full); n++ {
		d := NewDecoder(full[:n])
		d.Uint32()
		d.Uint64()
		d.Bool()
		d.Opaque(5)
		d.String(64)
		d.Fixed(5)
		if !errors.Is(d.Err(), ErrShort) {
			t.Fatalf("cut at %d: err %v, want ErrShort", n, d.Err())
		}
		if _, err := d.Uint32(); err == nil {
			t.Fatalf("cut at %d: a read after the error succeeded", n)
		}
	}
}

// TestHostileLengths: a length above the caller's limit or past the data
// is refused before anything is allocated or read.
func TestHostileLengths(t *testing.T) {
	huge := binary.BigEndian.AppendUint32(nil, 0xffffffff)
	d := NewDecoder(append(huge, make([]byte, 64)...))
	if _, err := d.Opaque(1 << 20); !errors.Is(err, ErrTooLong) {
		t.Fatalf("opaque of 4 GiB: %v, want ErrTooLong", err)
	}
	// The error sticks, and nothing after it decodes.
	if _, err := d.Fixed(0); !errors.Is(d.Err(), ErrTooLong) || err == nil || d.Remaining() != 0 {
		t.Fatalf("after the limit error: Fixed(0) %v, Err %v, %d bytes left", err, d.Err(), d.Remaining())
	}
	past := binary.BigEndian.AppendUint32(nil, 8)
	past = append(past, 1, 2, 3, 4)
	if _, err := NewDecoder(past).Opaque(64); !errors.Is(err, ErrShort) {
		t.Fatalf("opaque longer than the data: %v, want ErrShort", err)
	}
	for _, n := range []int{-1, -4, 1 << 62} {
		if _, err := NewDecoder(make([]byte, 8)).Fixed(n); !errors.Is(err, ErrShort) {
			t.Fatalf("fixed length %d: %v", n, err)
		}
	}
}

// TestRecordMark frames a message as one last fragment.
func TestRecordMark(t *testing.T) {
	e := NewRecord(16)
	e.Uint32(7)
	e.String("ab")
	rec := e.Record()
	if mark := binary.BigEndian.Uint32(rec); mark != 0x80000000|12 || len(rec) != 16 {
		t.Fatalf("record mark %#x for %d bytes", mark, len(rec))
	}
}

// FuzzDecoder runs arbitrary reads over arbitrary data: no panic, nothing
// read beyond the input, and once an error sticks every read fails.
func FuzzDecoder(f *testing.F) {
	f.Add(sample().Bytes(), []byte{0, 1, 2, 3, 4, 5})
	f.Add([]byte{0xff, 0xff, 0xff, 0xfc, 1}, []byte{3, 4})
	f.Fuzz(func(t *testing.T, data, ops []byte) {
		d := NewDecoder(data)
		for _, op := range ops {
			var err error
			before, stuck := d.Remaining(), d.Err() != nil
			switch op % 6 {
			case 0:
				_, err = d.Uint32()
			case 1:
				_, err = d.Uint64()
			case 2:
				_, err = d.Bool()
			case 3:
				var v []byte
				v, err = d.Opaque(int(op) * 4)
				if len(v) > before {
					t.Fatalf("opaque of %d bytes from %d left", len(v), before)
				}
			case 4:
				_, err = d.String(1 << 20)
			case 5:
				_, err = d.Fixed(int(op) - 128)
			}
			if d.Remaining() < 0 || d.Remaining() > before {
				t.Fatalf("remaining went from %d to %d", before, d.Remaining())
			}
			if stuck && err == nil {
				t.Fatalf("op %d succeeded after %v stuck", op%6, d.Err())
			}
		}
	})
}
