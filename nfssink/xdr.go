package nfssink

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// errShortArgs means a call's arguments ended early or a length field points
// past the record; it becomes GARBAGE_ARGS, never a panic.
var errShortArgs = errors.New("xdr: arguments truncated")

// xdrReader decodes XDR (RFC 4506) from one RPC record. Every length is
// checked against what is left, so a hostile record cannot make it allocate
// or read beyond the record.
type xdrReader struct {
	b   []byte
	off int
}

func (r *xdrReader) remaining() int { return len(r.b) - r.off }

func (r *xdrReader) uint32() (uint32, error) {
	if r.remaining() < 4 {
		return 0, errShortArgs
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v, nil
}

func (r *xdrReader) uint64() (uint64, error) {
	if r.remaining() < 8 {
		return 0, errShortArgs
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v, nil
}

func (r *xdrReader) bool() (bool, error) {
	v, err := r.uint32()
	return v != 0, err
}

// opaque reads variable-length opaque data of at most max bytes. The result
// aliases the record buffer.
func (r *xdrReader) opaque(max int) ([]byte, error) {
	n, err := r.uint32()
	if err != nil {
		return nil, err
	}
	if int64(n) > int64(max) {
		return nil, fmt.Errorf("xdr: opaque of %d bytes exceeds limit %d", n, max)
	}
	padded := (int(n) + 3) &^ 3
	if r.remaining() < padded {
		return nil, errShortArgs
	}
	v := r.b[r.off : r.off+int(n)]
	r.off += padded
	return v, nil
}

func (r *xdrReader) string(max int) (string, error) {
	b, err := r.opaque(max)
	return string(b), err
}

// xdrWriter encodes XDR into a growing buffer.
type xdrWriter struct {
	b []byte
}

func (w *xdrWriter) uint32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *xdrWriter) uint64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }

func (w *xdrWriter) bool(v bool) {
	if v {
		w.uint32(1)
	} else {
		w.uint32(0)
	}
}

func (w *xdrWriter) opaque(v []byte) {
	w.uint32(uint32(len(v)))
	w.fixed(v)
}

// fixed writes fixed-length opaque data, padded to four bytes.
func (w *xdrWriter) fixed(v []byte) {
	w.b = append(w.b, v...)
	for len(w.b)%4 != 0 {
		w.b = append(w.b, 0)
	}
}

func (w *xdrWriter) string(s string) { w.opaque([]byte(s)) }
