package nfssink

import "github.com/esxsink/esxsink/internal/xdr"

// The sink decodes calls and encodes replies with internal/xdr, the coder
// it shares with internal/nfsclient. The short names keep the procedure
// handlers' signatures readable.
type (
	// xdrReader decodes one RPC record; it is hostile input, and every
	// length is checked against what is left (see xdr.Decoder).
	xdrReader = xdr.Decoder
	// xdrWriter encodes a reply, usually started by newReply so that the
	// record mark can be filled in without a copy.
	xdrWriter = xdr.Encoder
)
