package nfssink

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/internal/xdr"
)

// maxInFlight bounds the owned calls (WRITE, COMMIT) one connection may
// have in progress, and so the record buffers it holds.
const maxInFlight = 16

// conn is one client TCP connection seen through the front end.
type conn struct {
	s      *Sink
	nc     net.Conn
	client netip.Addr
	log    *slog.Logger

	sendMu sync.Mutex // replies go out as whole records, never interleaved

	done <-chan struct{} // closed when the connection ends

	pipeOnce sync.Once
	pipe     net.Conn       // our end of the pipe to go-nfs
	toGoNFS  chan forwarded // records forwarded to go-nfs, in order

	mkdirMu sync.Mutex
	mkdirs  map[uint32]string // xid -> folder of a MKDIR go-nfs is running

	refusedOnce sync.Once
}

func (s *Sink) serveConn(ctx context.Context, nc net.Conn) {
	client := remoteAddr(nc)
	c := &conn{s: s, nc: nc, client: client, log: s.log.With("client", client.String()), mkdirs: map[uint32]string{}}
	defer c.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.done = ctx.Done()
	defer nc.Close()
	go func() { <-ctx.Done(); nc.Close() }()

	lim := s.cfg.Limits
	br := bufio.NewReaderSize(nc, 64<<10)
	sem := make(chan struct{}, maxInFlight)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for {
		// Between records a connection may idle; once a record has
		// begun, all of it must arrive in time, and its body is read
		// only when the sink-wide record budget has room.
		nc.SetReadDeadline(time.Now().Add(lim.IdleTimeout))
		held := false
		buf := s.bufs.get()
		rec, err := readRecord(br, buf, func() error {
			nc.SetReadDeadline(time.Now().Add(lim.RecordTimeout))
			if !s.budget.take(ctx.Done()) {
				return net.ErrClosed
			}
			held = true
			return nil
		})
		release := func(b []byte) {
			s.bufs.put(b)
			if held {
				s.budget.give()
			}
		}
		if err != nil {
			release(buf)
			var ne net.Error
			switch {
			case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || ctx.Err() != nil:
				c.log.Debug("NFS connection closed", "err", err)
			case errors.As(err, &ne) && ne.Timeout():
				c.log.Info("closing NFS connection: idle, or a record did not arrive in time", "err", err)
			default:
				c.log.Warn("closing NFS connection", "err", err)
			}
			return
		}
		h, args, err := parseCall(rec)
		switch {
		case errors.Is(err, errNotCall):
			c.log.Warn("closing connection: record is not an RPC call")
			release(rec)
			return
		case errors.Is(err, errRPCVersion):
			c.send(deniedReply(h.xid, rejectRPCMismatch, 2, 2))
			release(rec)
			continue
		case err != nil:
			if h.xid == 0 && len(rec) < 4 {
				release(rec)
				return
			}
			c.send(newReply(h.xid, acceptGarbageArgs))
			release(rec)
			continue
		}
		if !s.allowed(client) {
			c.refuseClient(h)
			release(rec)
			continue
		}
		if h.prog == progNFS && h.vers == 3 && (h.proc == nfsProcWrite || h.proc == nfsProcCommit) {
			sem <- struct{}{}
			inflight.Add(1)
			go func() {
				defer func() { <-sem; inflight.Done(); release(rec) }()
				c.send(c.dispatch(ctx, h, args, rec, release))
			}()
			continue
		}
		reply := c.dispatch(ctx, h, args, rec, release)
		if reply != nil {
			c.send(reply)
			release(rec)
		}
		// A nil reply means rec went to go-nfs, which releases it.
	}
}

// dispatch answers a call itself or forwards it to go-nfs (returning nil).
func (c *conn) dispatch(ctx context.Context, h callHeader, args *xdrReader, rec []byte, release func([]byte)) *xdrWriter {
	switch h.prog {
	case progMount:
		if h.vers != 3 {
			return progMismatchReply(h.xid, 3, 3)
		}
		return c.mountCall(h, args)
	case progNFS:
		if h.vers != 3 {
			return progMismatchReply(h.xid, 3, 3)
		}
		if reply, owned := c.nfsCall(ctx, h, args); owned {
			return reply
		}
		clampListing(h, rec, len(rec)-args.Remaining())
		c.forward(rec, release)
		return nil
	default:
		return newReply(h.xid, acceptProgUnavail)
	}
}

// refuseClient answers a call from an address outside the allow-list: MNT
// gets MNT3ERR_ACCES so ESXi reports a denied mount, everything else is
// rejected at the RPC level. The first refusal per connection is recorded.
func (c *conn) refuseClient(h callHeader) {
	c.refusedOnce.Do(func() {
		c.log.Warn("refused RPC from a client outside the allowed networks", "prog", h.prog, "proc", h.proc)
		c.s.record(custody.TypePolicyRefused, custody.PolicyRefused{Client: c.client.String(), Procedure: procName(h), Reason: "client address not in the allowed networks"})
	})
	if h.prog == progMount && h.vers == 3 && h.proc == mountProcMnt {
		w := newReply(h.xid, acceptSuccess)
		w.Uint32(mnt3ErrAcces)
		c.send(w)
		return
	}
	c.send(deniedReply(h.xid, rejectAuthError, authTooWeak))
}

func (c *conn) send(w *xdrWriter) {
	if w == nil {
		return
	}
	c.write(w.Record())
}

// write sends whole records under one lock; a client that does not take
// a reply within the write timeout is disconnected rather than buffered.
func (c *conn) write(bufs ...[]byte) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.Limits.WriteTimeout))
	nb := net.Buffers(bufs)
	if _, err := nb.WriteTo(c.nc); err != nil {
		c.nc.Close()
	}
}

// forwarded is a record on its way to go-nfs with what frees it.
type forwarded struct {
	rec     []byte
	release func([]byte)
}

// forward hands a whole record to go-nfs over an in-memory pipe; a
// goroutine copies go-nfs's replies back as whole records. It waits while
// go-nfs is behind (back-pressure to this client), never past the end of
// the connection.
func (c *conn) forward(rec []byte, release func([]byte)) {
	c.pipeOnce.Do(c.startPipe)
	select {
	case c.toGoNFS <- forwarded{rec, release}:
	case <-c.done:
		release(rec)
	}
}

func (c *conn) startPipe() {
	ours, theirs := net.Pipe()
	c.pipe = ours
	c.toGoNFS = make(chan forwarded, 2)
	c.s.goNFS.offer(&addrConn{Conn: theirs, remote: c.nc.RemoteAddr(), local: c.nc.LocalAddr()})
	go func() {
		var mark [4]byte
		for {
			var f forwarded
			select {
			case f = <-c.toGoNFS:
			case <-c.done:
				return
			}
			putMark(mark[:], len(f.rec))
			_, err := ours.Write(mark[:])
			if err == nil {
				_, err = ours.Write(f.rec)
			}
			f.release(f.rec)
			if err != nil {
				c.nc.Close()
				return
			}
		}
	}()
	go func() {
		br := bufio.NewReader(ours)
		for {
			rec, err := readRecord(br, nil, nil)
			if err != nil {
				// A reply the front end cannot pass on ends the
				// connection; closing the pipe unblocks go-nfs.
				c.nc.Close()
				ours.Close()
				return
			}
			c.replied(rec)
			var mark [4]byte
			putMark(mark[:], len(rec))
			c.write(mark[:], rec)
		}
	}()
}

func putMark(b []byte, n int) {
	v := uint32(n) | 1<<31
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// close stops forwarding when the client connection ends: closing the
// pipe ends go-nfs's side of it, whatever it was blocked on, and the
// records still queued for it are released.
func (c *conn) close() {
	if c.pipe != nil {
		c.pipe.Close()
	}
	if c.toGoNFS != nil {
		for {
			select {
			case f := <-c.toGoNFS:
				f.release(f.rec)
			default:
				return
			}
		}
	}
}

func remoteAddr(nc net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// addrConn gives go-nfs the client's real addresses on the pipe.
type addrConn struct {
	net.Conn
	remote, local net.Addr
}

func (a *addrConn) RemoteAddr() net.Addr { return a.remote }
func (a *addrConn) LocalAddr() net.Addr  { return a.local }

// bufPool recycles record buffers sized for the largest WRITE.
type bufPool struct{ p sync.Pool }

func (b *bufPool) get() []byte {
	if v := b.p.Get(); v != nil {
		return *(v.(*[]byte))
	}
	return make([]byte, 0, 64<<10)
}

func (b *bufPool) put(buf []byte) {
	if cap(buf) == 0 {
		return
	}
	buf = buf[:0]
	b.p.Put(&buf)
}

// replied looks at a reply of go-nfs before it goes out: a MKDIR is
// recorded once its outcome is known, with the outcome.
func (c *conn) replied(rec []byte) {
	if len(rec) < 4 {
		return
	}
	xid := binary.BigEndian.Uint32(rec)
	c.mkdirMu.Lock()
	dir, ok := c.mkdirs[xid]
	delete(c.mkdirs, xid)
	c.mkdirMu.Unlock()
	if !ok {
		return
	}
	if status, ok := replyStatus(rec); ok && status == nfs3OK {
		c.s.record(custody.TypeDirCreated, custody.FileCreated{Path: dir, Client: c.client.String()})
	} else {
		c.log.Info("MKDIR failed", "path", dir, "status", status)
	}
}

// pendingMkdir remembers the folder a forwarded MKDIR creates.
func (c *conn) pendingMkdir(xid uint32, dir string) {
	c.mkdirMu.Lock()
	defer c.mkdirMu.Unlock()
	if len(c.mkdirs) < maxInFlight*4 { // a client that never reads gets no more
		c.mkdirs[xid] = dir
	}
}

// replyStatus reads the NFS status of an accepted, successful RPC reply.
func replyStatus(rec []byte) (uint32, bool) {
	r := xdr.NewDecoder(rec)
	r.Uint32() // xid
	if mt, _ := r.Uint32(); mt != rpcReply {
		return 0, false
	}
	if st, _ := r.Uint32(); st != msgAccepted {
		return 0, false
	}
	r.Uint32() // verifier flavor
	if _, err := r.Opaque(maxAuthBody); err != nil {
		return 0, false
	}
	if st, _ := r.Uint32(); st != acceptSuccess {
		return 0, false
	}
	status, err := r.Uint32()
	return status, err == nil
}

// maxListing caps READDIR and READDIRPLUS replies, which go-nfs sizes by
// the client's count: a folder listing never needs more.
const maxListing = 256 << 10

const (
	nfsProcReaddir     = 16
	nfsProcReaddirPlus = 17
)

// clampListing lowers, in place, the byte counts a READDIR(PLUS) call in
// rec asks for (its arguments start at argsAt), so go-nfs never builds a
// reply larger than the front end passes on. A smaller count is legal:
// the client gets fewer entries and asks again.
func clampListing(h callHeader, rec []byte, argsAt int) {
	if h.prog != progNFS || (h.proc != nfsProcReaddir && h.proc != nfsProcReaddirPlus) {
		return
	}
	r := xdr.NewDecoder(rec[argsAt:])
	if _, err := r.Opaque(maxFileHandle); err != nil {
		return
	}
	if _, err := r.Fixed(16); err != nil { // cookie and cookie verifier
		return
	}
	counts := 1
	if h.proc == nfsProcReaddirPlus {
		counts = 2 // dircount and maxcount
	}
	at := len(rec) - r.Remaining()
	for i := 0; i < counts && at+4 <= len(rec); i, at = i+1, at+4 {
		if binary.BigEndian.Uint32(rec[at:]) > maxListing {
			binary.BigEndian.PutUint32(rec[at:], maxListing)
		}
	}
}
