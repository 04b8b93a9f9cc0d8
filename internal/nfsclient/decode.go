package nfsclient

import "github.com/esxsink/esxsink/internal/xdr"

// Replies are decoded with internal/xdr, whose first error sticks: these
// read one value for callers that decode a whole structure and check
// d.Err() once at the end (see done).

func u32(d *xdr.Decoder) uint32 { v, _ := d.Uint32(); return v }

func u64(d *xdr.Decoder) uint64 { v, _ := d.Uint64(); return v }

func boolean(d *xdr.Decoder) bool { v, _ := d.Bool(); return v }

func opaque(d *xdr.Decoder, max int) []byte { v, _ := d.Opaque(max); return v }

func str(d *xdr.Decoder, max int) string { v, _ := d.String(max); return v }

func fixed(d *xdr.Decoder, n int) []byte { v, _ := d.Fixed(n); return v }
