package nfssink

import (
	"bufio"
	"bytes"
	"context"
	"testing"

	"github.com/esxsink/esxsink/internal/xdr"
)

// FuzzReadRecord feeds arbitrary bytes to the record reader and call
// parser: they must never panic, never return a record above the limit,
// and never read past what they were given.
func FuzzReadRecord(f *testing.F) {
	call := func(prog, vers, proc uint32, args ...byte) []byte {
		w := xdr.NewRecord(64 + len(args))
		for _, v := range []uint32{1, rpcCall, 2, prog, vers, proc, authSys} {
			w.Uint32(v)
		}
		cred := &xdrWriter{}
		cred.Uint32(0)
		cred.String("host")
		cred.Uint32(0)
		cred.Uint32(0)
		cred.Uint32(0)
		w.Opaque(cred.Bytes())
		w.Uint32(0)
		w.Uint32(0)
		w.Raw(args)
		return w.Record()
	}
	f.Add(call(progNFS, 3, nfsProcWrite, 0, 0, 0, 4, 1, 2, 3, 4))
	f.Add(call(progMount, 3, mountProcMnt, 0, 0, 0, 1, '/', 0, 0, 0))
	f.Add([]byte{0x80, 0, 0, 0})
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff, 1, 2})
	f.Add([]byte{0, 0, 0, 4, 1, 2, 3, 4, 0x80, 0, 0, 1, 9})
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReader(bytes.NewReader(in))
		for {
			rec, err := readRecord(br, nil, nil)
			if err != nil {
				return
			}
			if len(rec) > maxRecord || len(rec) > len(in) {
				t.Fatalf("record of %d bytes from %d input bytes", len(rec), len(in))
			}
			_, args, err := parseCall(rec)
			if err == nil && args.Remaining() < 0 {
				t.Fatal("reader beyond record")
			}
		}
	})
}

// FuzzOwnedProcedures decodes arbitrary arguments for every procedure the
// front end answers itself, against a live sink: no panic, always a reply,
// and nothing outside the evidence folder.
func FuzzOwnedProcedures(f *testing.F) {
	ts := newTestSink(f, nil)
	root := ts.handles.handle("")
	seed := func(proc uint32, parts ...func(*xdrWriter)) {
		w := &xdrWriter{}
		for _, p := range parts {
			p(w)
		}
		f.Add(uint8(proc), w.Bytes())
	}
	fh := func(w *xdrWriter) { w.Opaque(root) }
	name := func(n string) func(*xdrWriter) { return func(w *xdrWriter) { w.String(n) } }
	u32 := func(v uint32) func(*xdrWriter) { return func(w *xdrWriter) { w.Uint32(v) } }
	seed(nfsProcCreate, fh, name("a.bin"), u32(createGuarded), u32(0), u32(0), u32(0), u32(0), u32(0), u32(0))
	seed(nfsProcCreate, fh, name("../x"), u32(createExclusive), u32(1), u32(2))
	seed(nfsProcWrite, fh, u32(0), u32(0), u32(3), u32(0), u32(3), u32(0x41424300))
	seed(nfsProcCommit, fh, u32(0), u32(0), u32(0))
	seed(nfsProcRename, fh, name("a"), fh, name("b"))
	seed(nfsProcSetattr, fh, u32(0), u32(0), u32(0), u32(1), u32(0), u32(0), u32(0), u32(0), u32(0))
	seed(nfsProcRemove, fh, name(".lck-1"))
	seed(nfsProcLink, fh, fh, name("l"))
	seed(100+mountProcMnt, name("/esxsink"))
	seed(100 + mountProcExport)
	ctx := context.Background()
	c := &conn{s: ts.Sink, client: netipLoopback, log: ts.log0()}
	f.Fuzz(func(t *testing.T, proc uint8, args []byte) {
		h := callHeader{xid: 1, prog: progNFS, vers: 3, proc: uint32(proc % 22)}
		if proc >= 100 {
			h.prog, h.proc = progMount, uint32(proc-100)%6
		}
		r := xdr.NewDecoder(args)
		var reply *xdrWriter
		if h.prog == progMount {
			reply = c.mountCall(h, r)
		} else {
			var owned bool
			reply, owned = c.nfsCall(ctx, h, r)
			if !owned {
				return
			}
		}
		if reply == nil && !(h.proc == nfsProcRemove || h.proc == nfsProcMkdir || h.proc == nfsProcSetattr) {
			t.Fatalf("no reply for proc %d", h.proc)
		}
	})
}
