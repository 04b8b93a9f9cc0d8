package nfssink

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/esxsink/esxsink/internal/nfsclient"
)

// testClient is internal/nfsclient's pipelined client (many calls in
// flight on one connection, writes in any order, hand-made calls for what
// the write-once policy refuses) with helpers that return the NFS or MOUNT
// status word, so tests compare it with the sink's own constants.
type testClient struct {
	*nfsclient.Client
	t   testing.TB
	ctx context.Context
}

func dialRPC(t testing.TB, addr string) *testClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	conn, err := nfsclient.Dial(ctx, addr, nfsclient.Auth{Machine: "esxi-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &testClient{Client: nfsclient.NewClient(conn), t: t, ctx: ctx}
}

// statusOf returns the NFS or MOUNT status in err (0 for nil); any other
// failure (transport, RPC denial) is not a status and ends the test.
func (c *testClient) statusOf(err error, what string) uint32 {
	c.t.Helper()
	var st nfsclient.Status
	var mst nfsclient.MountStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &st):
		return uint32(st)
	case errors.As(err, &mst):
		return uint32(mst)
	}
	c.t.Fatalf("%s: %v", what, err)
	return 0
}

func (c *testClient) mount(path string) (status uint32, root []byte) {
	c.t.Helper()
	fh, err := c.Mnt(c.ctx, path)
	return c.statusOf(err, "MNT "+path), fh
}

// create makes a file (no attributes; for EXCLUSIVE the verifier
// "verifier") and returns status, handle.
func (c *testClient) create(dir []byte, name string, how uint32) (uint32, []byte) {
	c.t.Helper()
	fh, _, err := c.Create(c.ctx, dir, name, nfsclient.CreateMode(how), nfsclient.SetAttr{}, [8]byte([]byte("verifier")))
	return c.statusOf(err, "CREATE "+name), fh
}

func (c *testClient) lookup(dir []byte, name string) (uint32, []byte) {
	c.t.Helper()
	fh, _, err := c.Lookup(c.ctx, dir, name)
	return c.statusOf(err, "LOOKUP "+name), fh
}

// write sends one WRITE and returns status, count and committed level. It
// reports failures as err instead of ending the test, so goroutines may
// call it.
func (c *testClient) write(fh []byte, off uint64, data []byte, stable uint32) (status, count, committed uint32, verf []byte, err error) {
	res, err := c.Write(c.ctx, fh, off, data, nfsclient.Stable(stable))
	var st nfsclient.Status
	if errors.As(err, &st) {
		return uint32(st), 0, 0, nil, nil
	}
	if err != nil {
		return 0, 0, 0, nil, err
	}
	return nfs3OK, res.Count, uint32(res.Committed), res.Verifier[:], nil
}

// commit commits the whole file and returns status and write verifier.
func (c *testClient) commit(fh []byte) (uint32, []byte) {
	c.t.Helper()
	v, err := c.Commit(c.ctx, fh, 0, 0)
	if st := c.statusOf(err, "COMMIT"); st != nfs3OK {
		return st, nil
	}
	return nfs3OK, v[:]
}

func (c *testClient) getattrSize(fh []byte) (uint32, uint64) {
	c.t.Helper()
	a, err := c.Getattr(c.ctx, fh)
	return c.statusOf(err, "GETATTR"), a.Size
}

// status makes a hand-made NFSv3 call and returns just its status word.
func (c *testClient) status(proc uint32, args []byte) uint32 {
	c.t.Helper()
	d, err := c.Call(c.ctx, progNFS, 3, proc, args)
	if err != nil {
		c.t.Fatalf("NFS procedure %d: %v", proc, err)
	}
	st, err := d.Uint32()
	if err != nil {
		c.t.Fatalf("NFS procedure %d: %v", proc, err)
	}
	return st
}

func dirop(dir []byte, name string) *xdrWriter {
	a := &xdrWriter{}
	a.Opaque(dir)
	a.String(name)
	return a
}

func emptySattr(a *xdrWriter) {
	for range 4 {
		a.Bool(false)
	}
	a.Uint32(0)
	a.Uint32(0)
}
