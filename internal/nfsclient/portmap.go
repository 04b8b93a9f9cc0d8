package nfsclient

import (
	"context"
	"fmt"

	"github.com/esxsink/esxsink/internal/xdr"
)

// PMAP v2 procedure and protocol numbers (RFC 1833).
const (
	pmapVers    = 2
	pmapGetport = 3
	// ProtoTCP is IPPROTO_TCP, the only transport this package speaks.
	ProtoTCP = 6
)

// ErrNotRegistered means the portmapper knows no port for the program.
var ErrNotRegistered = fmt.Errorf("portmapper: program not registered")

// GetPort asks the portmapper at addr (host:port, usually port 111) for the
// TCP port of prog/vers, over a connection of its own.
func GetPort(ctx context.Context, addr string, prog, vers uint32) (int, error) {
	c, err := Dial(ctx, addr, Auth{})
	if err != nil {
		return 0, fmt.Errorf("portmapper: %w", err)
	}
	defer c.Close()
	return c.GetPort(ctx, prog, vers)
}

// GetPort asks the portmapper on this connection for the TCP port of
// prog/vers.
func (c *Conn) GetPort(ctx context.Context, prog, vers uint32) (int, error) {
	e := &xdr.Encoder{}
	e.Uint32(prog)
	e.Uint32(vers)
	e.Uint32(ProtoTCP)
	e.Uint32(0)
	d, err := c.Call(ctx, ProgPortmap, pmapVers, pmapGetport, e.Bytes())
	if err != nil {
		return 0, fmt.Errorf("portmapper GETPORT %d v%d: %w", prog, vers, err)
	}
	port := u32(d)
	if d.Err() != nil {
		return 0, fmt.Errorf("portmapper GETPORT %d v%d: %w", prog, vers, d.Err())
	}
	if port == 0 || port > 65535 {
		return 0, fmt.Errorf("portmapper GETPORT %d v%d/tcp: %w", prog, vers, ErrNotRegistered)
	}
	return int(port), nil
}
