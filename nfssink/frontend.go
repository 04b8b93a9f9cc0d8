package nfssink

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/esxsink/esxsink/custody"
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

	pipeOnce sync.Once
	toGoNFS  chan []byte // records forwarded to go-nfs, in order
	pipeErr  chan error

	refusedOnce sync.Once
}

func (s *Sink) serveConn(ctx context.Context, nc net.Conn) {
	client := remoteAddr(nc)
	c := &conn{s: s, nc: nc, client: client, log: s.log.With("client", client.String())}
	defer c.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer nc.Close()
	go func() { <-ctx.Done(); nc.Close() }()

	br := bufio.NewReaderSize(nc, 256<<10)
	sem := make(chan struct{}, maxInFlight)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for {
		buf := s.bufs.get()
		rec, err := readRecord(br, buf)
		if err != nil {
			s.bufs.put(buf)
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || ctx.Err() != nil {
				c.log.Debug("NFS connection closed", "err", err)
			} else {
				c.log.Warn("closing NFS connection", "err", err)
			}
			return
		}
		h, args, err := parseCall(rec)
		switch {
		case errors.Is(err, errNotCall):
			c.log.Warn("closing connection: record is not an RPC call")
			s.bufs.put(rec)
			return
		case errors.Is(err, errRPCVersion):
			c.send(deniedReply(h.xid, rejectRPCMismatch, 2, 2))
			s.bufs.put(rec)
			continue
		case err != nil:
			if h.xid == 0 && len(rec) < 4 {
				s.bufs.put(rec)
				return
			}
			c.send(newReply(h.xid, acceptGarbageArgs))
			s.bufs.put(rec)
			continue
		}
		if !s.allowed(client) {
			c.refuseClient(h)
			s.bufs.put(rec)
			continue
		}
		if h.prog == progNFS && h.vers == 3 && (h.proc == nfsProcWrite || h.proc == nfsProcCommit) {
			sem <- struct{}{}
			inflight.Add(1)
			go func() {
				defer func() { <-sem; inflight.Done(); s.bufs.put(rec) }()
				c.send(c.dispatch(ctx, h, args, rec))
			}()
			continue
		}
		reply := c.dispatch(ctx, h, args, rec)
		if reply != nil {
			c.send(reply)
			s.bufs.put(rec)
		}
		// A nil reply means rec went to go-nfs, which owns it now.
	}
}

// dispatch answers a call itself or forwards it to go-nfs (returning nil).
func (c *conn) dispatch(ctx context.Context, h callHeader, args *xdrReader, rec []byte) *xdrWriter {
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
		c.forward(rec)
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
		c.log.Warn("refused RPC from client outside --allow", "prog", h.prog, "proc", h.proc)
		c.s.record(custody.TypePolicyRefused, custody.PolicyRefused{Client: c.client.String(), Procedure: procName(h), Reason: "client address not in --allow"})
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
	rec := w.Record()
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if _, err := c.nc.Write(rec); err != nil {
		c.nc.Close()
	}
}

// forward hands a whole record to go-nfs over an in-memory pipe; a
// goroutine copies go-nfs's replies back as whole records.
func (c *conn) forward(rec []byte) {
	c.pipeOnce.Do(c.startPipe)
	c.toGoNFS <- rec
}

func (c *conn) startPipe() {
	ours, theirs := net.Pipe()
	c.toGoNFS = make(chan []byte, 64)
	c.s.goNFS.offer(&addrConn{Conn: theirs, remote: c.nc.RemoteAddr(), local: c.nc.LocalAddr()})
	go func() {
		defer ours.Close()
		var mark [4]byte
		for rec := range c.toGoNFS {
			putMark(mark[:], len(rec))
			_, err := ours.Write(mark[:])
			if err == nil {
				_, err = ours.Write(rec)
			}
			c.s.bufs.put(rec)
			if err != nil {
				c.nc.Close()
				return
			}
		}
	}()
	go func() {
		br := bufio.NewReader(ours)
		for {
			rec, err := readRecord(br, nil)
			if err != nil {
				c.nc.Close()
				return
			}
			c.sendRaw(rec)
		}
	}()
}

func (c *conn) sendRaw(rec []byte) {
	var mark [4]byte
	putMark(mark[:], len(rec))
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if _, err := (&net.Buffers{mark[:], rec}).WriteTo(c.nc); err != nil {
		c.nc.Close()
	}
}

func putMark(b []byte, n int) {
	v := uint32(n) | 1<<31
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// closeConn stops forwarding; called when the client connection ends.
func (c *conn) close() {
	if c.toGoNFS != nil {
		close(c.toGoNFS)
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
