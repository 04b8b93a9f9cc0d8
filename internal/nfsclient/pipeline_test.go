package nfsclient

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/esxsink/esxsink/internal/xdr"
)

func itoa(i int) string { return strconv.Itoa(i) }

// reverseServer collects n calls, then answers them in reverse order, each
// reply carrying the call's procedure number, so a client that matched
// replies by order instead of xid would hand callers the wrong results.
func reverseServer(t *testing.T, n int) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		br := bufio.NewReader(nc)
		type call struct{ xid, proc uint32 }
		var calls []call
		for len(calls) < n {
			rec, err := readRecord(br)
			if err != nil {
				return
			}
			d := xdr.NewDecoder(rec)
			xid := u32(d)
			d.Uint32() // CALL
			d.Uint32() // RPC version
			d.Uint32() // program
			d.Uint32() // version
			calls = append(calls, call{xid, u32(d)})
		}
		for i := len(calls) - 1; i >= 0; i-- {
			e := xdr.NewRecord(32)
			for _, v := range []uint32{calls[i].xid, msgReply, replyAccepted, authNone, 0, 0, calls[i].proc * 10} {
				e.Uint32(v)
			}
			nc.Write(e.Record())
		}
		// Keep the connection until the client is done with it: it
		// closes its end once it has read every reply.
		io.Copy(io.Discard, nc)
	}()
	return ln.Addr().String()
}

func TestRepliesMatchedByXID(t *testing.T) {
	const n = 6
	ctx := ctxT(t)
	c, err := Dial(ctx, reverseServer(t, n), root)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := c.Call(ctx, 400000, 1, uint32(i), nil)
			if err != nil {
				errs <- err
				return
			}
			if got := u32(d); got != uint32(i)*10 {
				errs <- errors.New("call " + itoa(i) + " got the reply for " + itoa(int(got)/10))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, max := c.Stats(); max != n {
		t.Errorf("max in flight %d, want %d", max, n)
	}
}

// TestCallContext checks that a cancelled wait returns the context's
// error and leaves the connection usable for other calls.
func TestCallContext(t *testing.T) {
	ctx := ctxT(t)
	addr := reverseServer(t, 2)
	c, err := Dial(ctx, addr, root)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := c.Call(short, 400000, 1, 1, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call past its deadline: %v", err)
	}
	// The second call completes the server's batch of two; its reply
	// must still reach it, and the late reply to the first is dropped.
	d, err := c.Call(ctx, 400000, 1, 2, nil)
	if err != nil || u32(d) != 20 {
		t.Fatalf("call after a cancelled one: %v", err)
	}
}
