package nfsclient

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/esxsink/esxsink/internal/xdr"
)

// ONC RPC program numbers.
const (
	ProgPortmap = 100000
	ProgNFS     = 100003
	ProgMount   = 100005
)

// RPC message constants (RFC 5531).
const (
	msgCall  = 0
	msgReply = 1

	replyAccepted = 0
	replyDenied   = 1

	authNone = 0
	authSys  = 1

	maxAuthBody = 400
	// maxReply bounds one reply record: a READ of 1 MiB plus headroom.
	maxReply = 4<<20 + 64<<10
)

// AcceptStat is a non-success accept status of an RPC reply.
type AcceptStat uint32

// Accept statuses.
const (
	ProgUnavail  AcceptStat = 1
	ProgMismatch AcceptStat = 2
	ProcUnavail  AcceptStat = 3
	GarbageArgs  AcceptStat = 4
	SystemErr    AcceptStat = 5
)

func (a AcceptStat) Error() string {
	switch a {
	case ProgUnavail:
		return "rpc: program unavailable"
	case ProgMismatch:
		return "rpc: program version mismatch"
	case ProcUnavail:
		return "rpc: procedure unavailable"
	case GarbageArgs:
		return "rpc: garbage arguments"
	case SystemErr:
		return "rpc: system error"
	}
	return fmt.Sprintf("rpc: accept status %d", uint32(a))
}

// MismatchError is a PROG_MISMATCH reply: the server serves the program,
// but only versions Low to High. errors.Is(err, ProgMismatch) matches it.
type MismatchError struct {
	Low, High uint32
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%v: server supports versions %d to %d", ProgMismatch, e.Low, e.High)
}

func (e *MismatchError) Unwrap() error { return ProgMismatch }

// ErrDenied means the server rejected a call (RPC version or
// authentication).
var ErrDenied = errors.New("rpc: call denied")

// ErrClosed means the connection is closed or broke.
var ErrClosed = errors.New("rpc: connection closed")

// Auth is the AUTH_SYS identity sent with every call. ESXi mounts as root.
type Auth struct {
	Machine string
	UID     uint32
	GID     uint32
	GIDs    []uint32
}

func (a Auth) encode() []byte {
	e := &xdr.Encoder{}
	e.Uint32(uint32(time.Now().Unix()))
	e.String(a.Machine)
	e.Uint32(a.UID)
	e.Uint32(a.GID)
	e.Uint32(uint32(len(a.GIDs)))
	for _, g := range a.GIDs {
		e.Uint32(g)
	}
	return e.Bytes()
}

// Conn is one TCP connection carrying ONC RPC calls. It is safe for
// concurrent use: calls from several goroutines are in flight at once and
// replies are matched to them by xid.
type Conn struct {
	nc   net.Conn
	cred []byte

	xid atomic.Uint32
	wmu sync.Mutex // serialises whole records on the wire

	mu      sync.Mutex
	pending map[uint32]chan []byte
	err     error // set once the connection broke
	done    chan struct{}

	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	calls       atomic.Int64
}

// Dial connects to an RPC server over TCP. Auth is sent with every call.
func Dial(ctx context.Context, addr string, auth Auth) (*Conn, error) {
	return DialFrom(ctx, "", addr, auth)
}

// DialFrom is Dial from the local IP address local ("": any).
func DialFrom(ctx context.Context, local, addr string, auth Auth) (*Conn, error) {
	var d net.Dialer
	if local != "" {
		ip := net.ParseIP(local)
		if ip == nil {
			return nil, fmt.Errorf("connect to %s: local address %q is not an IP address", addr, local)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
		tc.SetKeepAlive(true)
	}
	return NewConn(nc, auth), nil
}

// NewConn runs RPC over an established connection.
func NewConn(nc net.Conn, auth Auth) *Conn {
	c := &Conn{nc: nc, cred: auth.encode(), pending: map[uint32]chan []byte{}, done: make(chan struct{})}
	c.xid.Store(uint32(time.Now().UnixNano()))
	go c.readLoop()
	return c
}

// RemoteAddr is the server's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Close closes the connection; calls waiting for replies fail.
func (c *Conn) Close() error {
	err := c.nc.Close()
	c.fail(ErrClosed)
	return err
}

// Done is closed when the connection is closed or broke.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err reports why the connection ended, or nil while it works.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Stats reports the calls made and the most that were in flight at once.
func (c *Conn) Stats() (calls, maxInFlight int64) { return c.calls.Load(), c.maxInFlight.Load() }

func (c *Conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	for _, ch := range c.pending {
		close(ch)
	}
	c.pending = map[uint32]chan []byte{}
	close(c.done)
}

func (c *Conn) readLoop() {
	br := bufio.NewReaderSize(c.nc, 256<<10)
	for {
		rec, err := readRecord(br)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				err = fmt.Errorf("%w: %v", ErrClosed, err)
			}
			c.fail(err)
			return
		}
		if len(rec) < 4 {
			continue
		}
		xid := binary.BigEndian.Uint32(rec)
		c.mu.Lock()
		ch := c.pending[xid]
		delete(c.pending, xid)
		c.mu.Unlock()
		if ch != nil {
			ch <- rec
		}
	}
}

// readRecord reads one record-marked RPC message, joining fragments.
func readRecord(r *bufio.Reader) ([]byte, error) {
	var out []byte
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, err
		}
		h := binary.BigEndian.Uint32(hdr[:])
		n := int(h & 0x7fffffff)
		if len(out)+n > maxReply {
			return nil, fmt.Errorf("rpc: reply of more than %d bytes", maxReply)
		}
		start := len(out)
		out = append(out, make([]byte, n)...)
		if _, err := io.ReadFull(r, out[start:]); err != nil {
			return nil, err
		}
		if h&0x80000000 != 0 {
			return out, nil
		}
	}
}

// Call sends one call and waits for its reply, returning a decoder
// positioned at the procedure's results. A context that ends abandons the
// wait (a late reply is dropped); the connection stays usable.
func (c *Conn) Call(ctx context.Context, prog, vers, proc uint32, args []byte) (*xdr.Decoder, error) {
	xid := c.xid.Add(1)
	hdr := xdr.NewRecord(128)
	for _, v := range []uint32{xid, msgCall, 2, prog, vers, proc, authSys} {
		hdr.Uint32(v)
	}
	hdr.Opaque(c.cred)
	hdr.Uint32(authNone)
	hdr.Uint32(0)
	// The record mark covers args too, which go out as a second buffer
	// so that WRITE data is not copied again.
	rec := hdr.Bytes()
	binary.BigEndian.PutUint32(rec, 0x80000000|uint32(len(rec)-4+len(args)))

	ch := make(chan []byte, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	c.pending[xid] = ch
	c.mu.Unlock()
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for {
		m := c.maxInFlight.Load()
		if n <= m || c.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	c.calls.Add(1)

	if err := c.send(ctx, rec, args); err != nil {
		c.forget(xid)
		return nil, err
	}
	select {
	case rec, ok := <-ch:
		if !ok {
			return nil, c.Err()
		}
		return parseReply(rec)
	case <-ctx.Done():
		c.forget(xid)
		return nil, ctx.Err()
	}
}

func (c *Conn) forget(xid uint32) {
	c.mu.Lock()
	delete(c.pending, xid)
	c.mu.Unlock()
}

// send writes one record. A write that fails or is interrupted part-way
// leaves the stream unusable, so the connection is failed.
func (c *Conn) send(ctx context.Context, hdr, args []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetWriteDeadline(dl)
	} else {
		c.nc.SetWriteDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { c.nc.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	bufs := net.Buffers{hdr, args}
	if _, err := bufs.WriteTo(c.nc); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
			err = ctx.Err()
		}
		c.nc.Close()
		c.fail(fmt.Errorf("%w: send: %v", ErrClosed, err))
		return err
	}
	return nil
}

func parseReply(rec []byte) (*xdr.Decoder, error) {
	d := xdr.NewDecoder(rec)
	u32(d) // xid
	if u32(d) != msgReply {
		return nil, errors.New("rpc: message is not a reply")
	}
	switch u32(d) {
	case replyAccepted:
	case replyDenied:
		return nil, ErrDenied
	default:
		return nil, errors.New("rpc: malformed reply")
	}
	u32(d)
	opaque(d, maxAuthBody)
	st := u32(d)
	if d.Err() != nil {
		return nil, d.Err()
	}
	if st == uint32(ProgMismatch) {
		// The version range tells the caller what to retry with.
		m := &MismatchError{Low: u32(d), High: u32(d)}
		if d.Err() != nil {
			return nil, ProgMismatch
		}
		return nil, m
	}
	if st != 0 {
		return nil, AcceptStat(st)
	}
	return d, nil
}
