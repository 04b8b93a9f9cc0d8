package nfssink

import (
	"errors"
	"testing"

	"github.com/esxsink/esxsink/internal/xdr"
)

// BenchmarkDecodeWriteCall measures the sink's hot path before any disk
// I/O: parsing one WRITE call record (RPC header, AUTH_SYS) and its
// arguments as onWrite does. It guards the XDR coder against getting
// slower; the data is aliased, never copied, so size does not matter.
func BenchmarkDecodeWriteCall(b *testing.B) {
	data := make([]byte, 512<<10) // ESXi's usual wsize
	w := xdr.NewRecord(len(data) + 256)
	for _, v := range []uint32{7, rpcCall, 2, progNFS, 3, nfsProcWrite, authSys} {
		w.Uint32(v)
	}
	cred := &xdrWriter{}
	cred.Uint32(0) // stamp
	cred.String("esxi-host")
	cred.Uint32(0)
	cred.Uint32(0)
	cred.Uint32(0)
	w.Opaque(cred.Bytes())
	w.Uint32(authNone)
	w.Uint32(0)
	w.Opaque(make([]byte, 32)) // file handle
	w.Uint64(1 << 30)
	w.Uint32(uint32(len(data)))
	w.Uint32(0) // UNSTABLE
	w.Opaque(data)
	rec := w.Record()[4:]
	b.ReportAllocs()
	for b.Loop() {
		h, args, err := parseCall(rec)
		if err != nil || h.proc != nfsProcWrite {
			b.Fatal(h, err)
		}
		fh, err := args.Opaque(maxFileHandle)
		off, err1 := args.Uint64()
		count, err2 := args.Uint32()
		stable, err3 := args.Uint32()
		got, err4 := args.Opaque(maxWrite)
		if err := errors.Join(err, err1, err2, err3, err4); err != nil {
			b.Fatal(err)
		}
		if len(fh) != 32 || off != 1<<30 || int(count) != len(got) || stable != 0 {
			b.Fatal("decoded the wrong values")
		}
	}
}
