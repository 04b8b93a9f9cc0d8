package nfsclient

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrShort means a reply ended before the value being decoded.
var ErrShort = errors.New("xdr: reply truncated")

// Encoder builds XDR (RFC 4506) data in a growing buffer.
type Encoder struct {
	b []byte
}

// Bytes returns the encoded data.
func (e *Encoder) Bytes() []byte { return e.b }

// Uint32 appends an unsigned int.
func (e *Encoder) Uint32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }

// Uint64 appends an unsigned hyper.
func (e *Encoder) Uint64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }

// Bool appends a bool.
func (e *Encoder) Bool(v bool) {
	if v {
		e.Uint32(1)
	} else {
		e.Uint32(0)
	}
}

// Opaque appends variable-length opaque data.
func (e *Encoder) Opaque(v []byte) {
	e.Uint32(uint32(len(v)))
	e.Fixed(v)
}

// Fixed appends fixed-length opaque data, padded to four bytes.
func (e *Encoder) Fixed(v []byte) {
	e.b = append(e.b, v...)
	for len(e.b)%4 != 0 {
		e.b = append(e.b, 0)
	}
}

// String appends a string.
func (e *Encoder) String(s string) {
	e.Uint32(uint32(len(s)))
	e.b = append(e.b, s...)
	for len(e.b)%4 != 0 {
		e.b = append(e.b, 0)
	}
}

// Decoder reads XDR data. Every length is checked against what is left, so
// a hostile reply cannot make it allocate or read out of bounds. The first
// error sticks: later reads return zero values and Err reports it.
type Decoder struct {
	b   []byte
	off int
	err error
}

// NewDecoder decodes b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Err is the first decoding error.
func (d *Decoder) Err() error { return d.err }

// Remaining is the number of undecoded bytes.
func (d *Decoder) Remaining() int { return len(d.b) - d.off }

// Rest returns the undecoded bytes.
func (d *Decoder) Rest() []byte { return d.b[d.off:] }

func (d *Decoder) need(n int) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || d.Remaining() < n {
		d.err = ErrShort
		return false
	}
	return true
}

// Uint32 reads an unsigned int.
func (d *Decoder) Uint32() uint32 {
	if !d.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

// Uint64 reads an unsigned hyper.
func (d *Decoder) Uint64() uint64 {
	if !d.need(8) {
		return 0
	}
	v := binary.BigEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

// Bool reads a bool.
func (d *Decoder) Bool() bool { return d.Uint32() != 0 }

// Fixed reads n bytes of fixed-length opaque data (plus padding). The
// result aliases the reply buffer.
func (d *Decoder) Fixed(n int) []byte {
	padded := (n + 3) &^ 3
	if !d.need(padded) {
		return nil
	}
	v := d.b[d.off : d.off+n]
	d.off += padded
	return v
}

// Opaque reads variable-length opaque data of at most max bytes.
func (d *Decoder) Opaque(max int) []byte {
	n := d.Uint32()
	if d.err != nil {
		return nil
	}
	if int64(n) > int64(max) {
		d.err = fmt.Errorf("xdr: opaque of %d bytes exceeds limit %d", n, max)
		return nil
	}
	return d.Fixed(int(n))
}

// String reads a string of at most max bytes.
func (d *Decoder) String(max int) string { return string(d.Opaque(max)) }
