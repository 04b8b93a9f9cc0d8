package nfssink

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/esxsink/esxsink/internal/xdr"
)

// ONC RPC constants (RFC 5531).
const (
	rpcCall  = 0
	rpcReply = 1

	msgAccepted = 0
	msgDenied   = 1

	acceptSuccess      = 0
	acceptProgUnavail  = 1
	acceptProgMismatch = 2
	acceptProcUnavail  = 3
	acceptGarbageArgs  = 4
	acceptSystemErr    = 5

	rejectRPCMismatch = 0
	rejectAuthError   = 1

	authTooWeak = 5

	authNone = 0
	authSys  = 1

	progPortmap = 100000
	progNFS     = 100003
	progMount   = 100005
)

// maxAuthBody is RFC 5531's limit on credential and verifier bodies.
const maxAuthBody = 400

// maxRecord bounds one RPC record: the largest WRITE we advertise plus
// headroom for its header. Anything larger is a protocol violation and
// closes the connection instead of allocating.
const maxRecord = maxWrite + 64<<10

// errRecordTooLarge is returned for a record larger than maxRecord.
var errRecordTooLarge = errors.New("rpc: record exceeds size limit")

// readRecord reads one RPC record (record marking, RFC 5531 §11),
// reassembling fragments into buf, which it grows as needed up to
// maxRecord.
//
// begun, when not nil, is called once, after the record's first header:
// the caller sets the record's deadline and waits for room in its memory
// budget there; its error ends the read.
func readRecord(r *bufio.Reader, buf []byte, begun func() error) ([]byte, error) {
	return readRecordMax(r, buf, maxRecord, begun)
}

// readRecordMax is readRecord with a record limit of its own.
func readRecordMax(r *bufio.Reader, buf []byte, limit int, begun func() error) ([]byte, error) {
	buf = buf[:0]
	var hdr [4]byte
	first := true
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.ErrUnexpectedEOF && len(buf) == 0 {
				return nil, fmt.Errorf("rpc: record header truncated: %w", err)
			}
			return nil, err
		}
		if first && begun != nil {
			if err := begun(); err != nil {
				return nil, err
			}
		}
		first = false
		v := binary.BigEndian.Uint32(hdr[:])
		last := v&(1<<31) != 0
		n := int(v &^ (1 << 31))
		if len(buf)+n > limit {
			return nil, fmt.Errorf("%w: %d bytes", errRecordTooLarge, len(buf)+n)
		}
		start := len(buf)
		if cap(buf) < start+n {
			nb := make([]byte, start, start+n)
			copy(nb, buf)
			buf = nb
		}
		buf = buf[:start+n]
		if _, err := io.ReadFull(r, buf[start:]); err != nil {
			return nil, fmt.Errorf("rpc: record body truncated: %w", unexpected(err))
		}
		if last {
			return buf, nil
		}
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// callHeader is the fixed part of an RPC call.
type callHeader struct {
	xid, prog, vers, proc uint32
	credFlavor            uint32
	uid, gid              uint32 // AUTH_SYS only
}

// errNotCall marks a record that is not an RPC version 2 call; the
// connection is closed rather than guessed at.
var errNotCall = errors.New("rpc: not an RPC v2 call")

// parseCall decodes the call header of rec and returns a reader positioned
// at the procedure's arguments.
func parseCall(rec []byte) (callHeader, *xdrReader, error) {
	r := xdr.NewDecoder(rec)
	var h callHeader
	var err error
	if h.xid, err = r.Uint32(); err != nil {
		return h, nil, err
	}
	mt, err := r.Uint32()
	if err != nil {
		return h, nil, err
	}
	rpcvers, err := r.Uint32()
	if err != nil {
		return h, nil, err
	}
	if mt != rpcCall {
		return h, nil, errNotCall
	}
	if h.prog, err = r.Uint32(); err != nil {
		return h, nil, err
	}
	if h.vers, err = r.Uint32(); err != nil {
		return h, nil, err
	}
	if h.proc, err = r.Uint32(); err != nil {
		return h, nil, err
	}
	if h.credFlavor, err = r.Uint32(); err != nil {
		return h, nil, err
	}
	cred, err := r.Opaque(maxAuthBody)
	if err != nil {
		return h, nil, err
	}
	if h.credFlavor == authSys {
		h.uid, h.gid = parseAuthSys(cred)
	}
	if _, err = r.Uint32(); err != nil { // verifier flavor
		return h, nil, err
	}
	if _, err = r.Opaque(maxAuthBody); err != nil {
		return h, nil, err
	}
	if rpcvers != 2 {
		return h, r, errRPCVersion
	}
	return h, r, nil
}

var errRPCVersion = errors.New("rpc: version mismatch")

// parseAuthSys extracts uid and gid from an AUTH_SYS credential body; a
// malformed body yields nobody (65534), which only matters for logging.
func parseAuthSys(b []byte) (uid, gid uint32) {
	r := xdr.NewDecoder(b)
	if _, err := r.Uint32(); err != nil { // stamp
		return 65534, 65534
	}
	if _, err := r.Opaque(255); err != nil { // machine name
		return 65534, 65534
	}
	u, err1 := r.Uint32()
	g, err2 := r.Uint32()
	if err1 != nil || err2 != nil {
		return 65534, 65534
	}
	return u, g
}

// newReply starts a reply record for xid with the given accept status and
// leaves room for the record mark, which sendRecord fills in.
func newReply(xid uint32, accept uint32) *xdrWriter {
	w := xdr.NewRecord(256)
	w.Uint32(xid)
	w.Uint32(rpcReply)
	w.Uint32(msgAccepted)
	w.Uint32(authNone) // verifier
	w.Uint32(0)
	w.Uint32(accept)
	return w
}

// progMismatchReply tells the client which versions we serve.
func progMismatchReply(xid, low, high uint32) *xdrWriter {
	w := newReply(xid, acceptProgMismatch)
	w.Uint32(low)
	w.Uint32(high)
	return w
}

// deniedReply refuses a call at the RPC level (wrong RPC version or a
// client that is not on the allow-list), independent of the procedure.
func deniedReply(xid uint32, reject uint32, detail ...uint32) *xdrWriter {
	w := xdr.NewRecord(64)
	w.Uint32(xid)
	w.Uint32(rpcReply)
	w.Uint32(msgDenied)
	w.Uint32(reject)
	for _, d := range detail {
		w.Uint32(d)
	}
	return w
}
