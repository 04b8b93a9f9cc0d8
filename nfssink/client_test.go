package nfssink

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rpcClient is a small NFSv3 client for tests that need what libnfs's
// tools cannot do: many calls in flight on one connection, writes in any
// order, and the procedures the write-once policy refuses. Replies are
// matched by xid, so a reply that interleaved with another would fail to
// parse.
type rpcClient struct {
	t    testing.TB
	nc   net.Conn
	xid  atomic.Uint32
	wmu  sync.Mutex
	mu   sync.Mutex
	wait map[uint32]chan []byte
	err  error
	uid  uint32
}

func dialRPC(t testing.TB, addr string) *rpcClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := &rpcClient{t: t, nc: nc, wait: map[uint32]chan []byte{}}
	c.xid.Store(uint32(time.Now().UnixNano()))
	t.Cleanup(func() { nc.Close() })
	go c.readLoop()
	return c
}

func (c *rpcClient) readLoop() {
	br := bufio.NewReader(c.nc)
	for {
		rec, err := readRecord(br, nil)
		c.mu.Lock()
		if err != nil {
			c.err = err
			for _, ch := range c.wait {
				close(ch)
			}
			c.wait = map[uint32]chan []byte{}
			c.mu.Unlock()
			return
		}
		r := &xdrReader{b: rec}
		xid, _ := r.uint32()
		ch := c.wait[xid]
		delete(c.wait, xid)
		c.mu.Unlock()
		if ch != nil {
			ch <- rec
		}
	}
}

// rpcResult is a decoded reply: the accept status (or denial) and the body.
type rpcResult struct {
	denied bool
	accept uint32
	body   *xdrReader
}

func (c *rpcClient) call(prog, vers, proc uint32, args []byte) (rpcResult, error) {
	xid := c.xid.Add(1)
	w := &xdrWriter{b: make([]byte, 4, 64+len(args))}
	for _, v := range []uint32{xid, rpcCall, 2, prog, vers, proc} {
		w.uint32(v)
	}
	// AUTH_SYS as ESXi sends it: root.
	cred := &xdrWriter{}
	cred.uint32(0)
	cred.string("esxi-test")
	cred.uint32(c.uid)
	cred.uint32(0)
	cred.uint32(0)
	w.uint32(authSys)
	w.opaque(cred.b)
	w.uint32(authNone)
	w.uint32(0)
	w.b = append(w.b, args...)
	ch := make(chan []byte, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return rpcResult{}, c.err
	}
	c.wait[xid] = ch
	c.mu.Unlock()
	c.wmu.Lock()
	_, err := c.nc.Write(w.record())
	c.wmu.Unlock()
	if err != nil {
		return rpcResult{}, err
	}
	select {
	case rec, ok := <-ch:
		if !ok {
			return rpcResult{}, fmt.Errorf("connection closed: %v", c.err)
		}
		r := &xdrReader{b: rec}
		r.uint32() // xid
		if mt, _ := r.uint32(); mt != rpcReply {
			return rpcResult{}, fmt.Errorf("not a reply")
		}
		if st, _ := r.uint32(); st == msgDenied {
			return rpcResult{denied: true, body: r}, nil
		}
		r.uint32()
		r.opaque(maxAuthBody)
		acc, _ := r.uint32()
		return rpcResult{accept: acc, body: r}, nil
	case <-time.After(30 * time.Second):
		return rpcResult{}, fmt.Errorf("no reply to xid %d", xid)
	}
}

// must makes an NFS/MOUNT call that has to be accepted and returns its body.
func (c *rpcClient) must(prog, proc uint32, args []byte) *xdrReader {
	c.t.Helper()
	res, err := c.call(prog, 3, proc, args)
	if err != nil {
		c.t.Fatalf("call %d.%d: %v", prog, proc, err)
	}
	if res.denied || res.accept != acceptSuccess {
		c.t.Fatalf("call %d.%d: denied=%v accept=%d", prog, proc, res.denied, res.accept)
	}
	return res.body
}

func (c *rpcClient) mount(path string) (status uint32, root []byte) {
	c.t.Helper()
	a := &xdrWriter{}
	a.string(path)
	r := c.must(progMount, mountProcMnt, a.b)
	status, _ = r.uint32()
	if status == mnt3OK {
		root, _ = r.opaque(maxFileHandle)
	}
	return status, root
}

func dirop(dir []byte, name string) *xdrWriter {
	a := &xdrWriter{}
	a.opaque(dir)
	a.string(name)
	return a
}

// create makes a file (UNCHECKED, no attributes) and returns status, handle.
func (c *rpcClient) create(dir []byte, name string, how uint32) (uint32, []byte) {
	c.t.Helper()
	a := dirop(dir, name)
	a.uint32(how)
	if how == createExclusive {
		a.fixed([]byte("verifier"))
	} else {
		emptySattr(a)
	}
	r := c.must(progNFS, nfsProcCreate, a.b)
	st, _ := r.uint32()
	if st != nfs3OK {
		return st, nil
	}
	r.bool()
	fh, _ := r.opaque(maxFileHandle)
	return st, fh
}

func emptySattr(a *xdrWriter) {
	for range 4 {
		a.bool(false)
	}
	a.uint32(0)
	a.uint32(0)
}

func (c *rpcClient) lookup(dir []byte, name string) (uint32, []byte) {
	c.t.Helper()
	r := c.must(progNFS, nfsProcLookup, dirop(dir, name).b)
	st, _ := r.uint32()
	if st != nfs3OK {
		return st, nil
	}
	fh, _ := r.opaque(maxFileHandle)
	return st, fh
}

// write sends one WRITE and returns status, count and committed level.
func (c *rpcClient) write(fh []byte, off uint64, data []byte, stable uint32) (status, count, committed uint32, verf []byte, err error) {
	a := &xdrWriter{b: make([]byte, 0, len(data)+128)}
	a.opaque(fh)
	a.uint64(off)
	a.uint32(uint32(len(data)))
	a.uint32(stable)
	a.opaque(data)
	res, err := c.call(progNFS, 3, nfsProcWrite, a.b)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	if res.accept != acceptSuccess {
		return 0, 0, 0, nil, fmt.Errorf("WRITE accept status %d", res.accept)
	}
	r := res.body
	status, _ = r.uint32()
	skipWcc(r)
	if status != nfs3OK {
		return status, 0, 0, nil, nil
	}
	count, _ = r.uint32()
	committed, _ = r.uint32()
	if r.remaining() < 8 {
		return status, count, committed, nil, fmt.Errorf("WRITE reply truncated")
	}
	verf = r.b[r.off : r.off+8]
	return status, count, committed, verf, nil
}

func (c *rpcClient) commit(fh []byte) (uint32, []byte) {
	c.t.Helper()
	a := &xdrWriter{}
	a.opaque(fh)
	a.uint64(0)
	a.uint32(0)
	r := c.must(progNFS, nfsProcCommit, a.b)
	st, _ := r.uint32()
	skipWcc(r)
	if st != nfs3OK {
		return st, nil
	}
	return st, r.b[r.off : r.off+8]
}

func (c *rpcClient) getattrSize(fh []byte) (uint32, uint64) {
	c.t.Helper()
	a := &xdrWriter{}
	a.opaque(fh)
	r := c.must(progNFS, nfsProcGetattr, a.b)
	st, _ := r.uint32()
	if st != nfs3OK {
		return st, 0
	}
	for range 5 {
		r.uint32()
	}
	size, _ := r.uint64()
	return st, size
}

func skipWcc(r *xdrReader) {
	if pre, _ := r.bool(); pre {
		r.uint64()
		r.uint64()
		r.uint64()
	}
	skipPostOp(r)
}

func skipPostOp(r *xdrReader) {
	if ok, _ := r.bool(); ok {
		r.off += 84 // fattr3
	}
}

// status makes a call and returns just its NFS status word.
func (c *rpcClient) status(proc uint32, args []byte) uint32 {
	c.t.Helper()
	st, _ := c.must(progNFS, proc, args).uint32()
	return st
}
