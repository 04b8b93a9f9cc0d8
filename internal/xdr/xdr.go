// Package xdr is the XDR (RFC 4506) coder shared by the evidence sink's
// RPC front end (nfssink) and the NFS client (internal/nfsclient), plus the
// record mark that frames one ONC RPC message on TCP (RFC 5531 §11).
//
// The Decoder faces hostile input on the sink's side: every length is
// checked against what is left, so a record cannot make it allocate or
// read out of bounds, and decoded opaque data aliases the input instead of
// being copied (WRITE data goes straight from the record to the file).
package xdr

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrShort means the data ended before the value being decoded, or a
// length points past it.
var ErrShort = errors.New("xdr: data truncated")

// ErrTooLong means a variable-length item is longer than the caller
// allows.
var ErrTooLong = errors.New("xdr: opaque data longer than its limit")

// Decoder reads XDR data. Each read returns its error; the first error
// also sticks (Err), and every read after it fails with ErrShort, so a
// caller decoding a whole structure may ignore the individual errors and
// check Err once at the end.
type Decoder struct {
	b []byte
	// off is the next byte to read. After an error it is moved past the
	// end (len(b)+short or len(b)+tooLong), which records the error and
	// makes every later length check fail: the reads need no test of
	// their own for an earlier error and no field beyond these two, so the
	// Decoder the sink allocates per RPC record stays at 32 bytes and the
	// reads stay small enough to be inlined.
	off int
}

// Failures, as the distance of off past the end.
const (
	short   = 1
	tooLong = 2
)

// NewDecoder decodes b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Err is the first decoding error: ErrShort, ErrTooLong, or nil.
func (d *Decoder) Err() error {
	switch d.off - len(d.b) {
	case short:
		return ErrShort
	case tooLong:
		return ErrTooLong
	}
	return nil
}

// Remaining is the number of undecoded bytes (0 after an error).
func (d *Decoder) Remaining() int { return max(len(d.b)-d.off, 0) }

// Rest returns the undecoded bytes, aliasing the input (nil after an
// error).
func (d *Decoder) Rest() []byte {
	if d.off > len(d.b) {
		return nil
	}
	return d.b[d.off:]
}

// fail records f unless an earlier error stuck.
func (d *Decoder) fail(f int) {
	if d.off <= len(d.b) {
		d.off = len(d.b) + f
	}
}

// Uint32 reads an unsigned int.
func (d *Decoder) Uint32() (uint32, error) {
	if len(d.b)-d.off < 4 {
		d.fail(short)
		return 0, ErrShort
	}
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v, nil
}

// Uint64 reads an unsigned hyper.
func (d *Decoder) Uint64() (uint64, error) {
	if len(d.b)-d.off < 8 {
		d.fail(short)
		return 0, ErrShort
	}
	v := binary.BigEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v, nil
}

// Bool reads a bool.
func (d *Decoder) Bool() (bool, error) {
	v, err := d.Uint32()
	return v != 0, err
}

// Fixed reads n bytes of fixed-length opaque data and their padding. The
// result aliases the input.
func (d *Decoder) Fixed(n int) ([]byte, error) {
	left := len(d.b) - d.off
	// n > left first: (n+3)&^3 overflows for n near MaxInt.
	if n < 0 || n > left || (n+3)&^3 > left {
		d.fail(short)
		return nil, ErrShort
	}
	v := d.b[d.off : d.off+n : d.off+n]
	d.off += (n + 3) &^ 3
	return v, nil
}

// Opaque reads variable-length opaque data of at most max bytes. The
// result aliases the input.
func (d *Decoder) Opaque(max int) ([]byte, error) {
	n, err := d.Uint32()
	if err != nil {
		return nil, err
	}
	if int64(n) > int64(max) {
		d.fail(tooLong)
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLong, n, max)
	}
	return d.Fixed(int(n))
}

// String reads a string of at most max bytes.
func (d *Decoder) String(max int) (string, error) {
	b, err := d.Opaque(max)
	return string(b), err
}

// Encoder builds XDR data in a growing buffer; the zero value is ready.
type Encoder struct {
	b []byte
}

// NewEncoder appends to buf (its capacity saves reallocations).
func NewEncoder(buf []byte) *Encoder { return &Encoder{b: buf} }

// Bytes returns the encoded data.
func (e *Encoder) Bytes() []byte { return e.b }

// Len is the number of bytes encoded.
func (e *Encoder) Len() int { return len(e.b) }

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
	e.pad()
}

// String appends a string.
func (e *Encoder) String(s string) {
	e.Uint32(uint32(len(s)))
	e.b = append(e.b, s...)
	e.pad()
}

// Raw appends data that is already XDR (e.g. procedure arguments encoded
// elsewhere) as it is.
func (e *Encoder) Raw(v []byte) { e.b = append(e.b, v...) }

func (e *Encoder) pad() {
	for len(e.b)%4 != 0 {
		e.b = append(e.b, 0)
	}
}
