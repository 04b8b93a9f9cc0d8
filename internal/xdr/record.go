package xdr

import "encoding/binary"

// lastFragment marks the final fragment of a record (RFC 5531 §11).
const lastFragment = 1 << 31

// NewRecord starts an encoder for one RPC message sent over TCP: the first
// four bytes are kept for the record mark, which Record fills in once the
// length is known, so the message goes out in one write without a copy.
func NewRecord(capacity int) *Encoder {
	return &Encoder{b: make([]byte, 4, max(capacity, 4))}
}

// Record fills in the record mark of an encoder made by NewRecord (one
// last fragment holding everything after the mark) and returns the whole
// record.
func (e *Encoder) Record() []byte {
	binary.BigEndian.PutUint32(e.b[:4], uint32(len(e.b)-4)|lastFragment)
	return e.b
}
