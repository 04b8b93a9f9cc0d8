package nfssink

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/esxsink/esxsink/internal/xdr"
)

// PMAP v2 (RFC 1833 §3) procedures and protocol numbers.
const (
	pmapProcNull    = 0
	pmapProcSet     = 1
	pmapProcUnset   = 2
	pmapProcGetport = 3
	pmapProcDump    = 4

	ipprotoTCP = 6
	ipprotoUDP = 17
)

type mapping struct{ prog, vers, prot, port uint32 }

// portmapper answers PMAP v2 itself or holds our registrations with a
// running rpcbind. ESXi looks mountd up through TCP 111 before mounting.
type portmapper struct {
	mode    string
	maps    []mapping
	tcp     net.Listener
	udp     net.PacketConn
	rpcbind string // address of the rpcbind we registered with
	log     *slog.Logger
	wg      sync.WaitGroup
}

// Errors of starting the portmapper, for the CLI to turn into advice.
var (
	// ErrPortmapTaken: the portmapper port is taken by something that is
	// not an rpcbind accepting our registration.
	ErrPortmapTaken = errors.New("the portmapper port is taken")
	// ErrPortmapMode: the portmapper mode is none of auto, builtin,
	// rpcbind, off.
	ErrPortmapMode = errors.New("unknown portmapper mode")
)

func (p *portmapper) describe() string {
	switch p.mode {
	case "builtin":
		return "builtin on " + p.tcp.Addr().String()
	case "rpcbind":
		return "registered with rpcbind at " + p.rpcbind
	}
	return "off"
}

func startPortmap(ctx context.Context, mode, addr string, port, nfsPort int, log *slog.Logger) (*portmapper, error) {
	p := &portmapper{mode: mode, log: log, maps: []mapping{
		{progMount, 3, ipprotoTCP, uint32(nfsPort)},
		{progNFS, 3, ipprotoTCP, uint32(nfsPort)},
	}}
	switch mode {
	case "off":
		return p, nil
	case "builtin":
		return p, p.listen(ctx, addr, port)
	case "rpcbind":
		return p, p.register(port)
	case "auto":
		err := p.listen(ctx, addr, port)
		if err == nil {
			p.mode = "builtin"
			return p, nil
		}
		if !isAddrInUse(errors.Unwrap(err)) && !isAddrInUse(err) {
			return p, err
		}
		if rerr := p.register(port); rerr != nil {
			return p, fmt.Errorf("portmapper: %w: port %d is taken and no rpcbind there accepted our registration (%v); stop whatever holds it, or turn the portmapper off if the client is told the ports: %w", ErrPortmapTaken, port, rerr, err)
		}
		p.mode = "rpcbind"
		return p, nil
	}
	return nil, fmt.Errorf("%w %q (want auto, builtin, rpcbind or off)", ErrPortmapMode, mode)
}

func (p *portmapper) listen(ctx context.Context, addr string, port int) error {
	hp := net.JoinHostPort(addr, strconv.Itoa(port))
	tl, err := net.Listen("tcp", hp)
	if err != nil {
		return bindError("portmapper (TCP)", hp, err)
	}
	ul, err := net.ListenPacket("udp", hp)
	if err != nil {
		tl.Close()
		return bindError("portmapper (UDP)", hp, err)
	}
	p.tcp, p.udp = tl, ul
	p.wg.Add(2)
	go p.serveTCP(ctx)
	go p.serveUDP()
	go func() { <-ctx.Done(); p.close() }()
	return nil
}

// Portmapper calls are tiny: a record, the connections and the time a
// client may take are bounded accordingly.
const (
	maxPortmapRecord = 4096
	maxPortmapConns  = 32
	portmapTimeout   = 30 * time.Second
)

func (p *portmapper) serveTCP(ctx context.Context) {
	defer p.wg.Done()
	slots := make(chan struct{}, maxPortmapConns)
	for {
		c, err := p.tcp.Accept()
		if err != nil {
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			c.Close() // too many at once: the client retries
			continue
		}
		go func() {
			defer func() { <-slots }()
			defer c.Close()
			br := bufio.NewReaderSize(c, maxPortmapRecord)
			for ctx.Err() == nil {
				c.SetReadDeadline(time.Now().Add(portmapTimeout))
				rec, err := readRecordMax(br, nil, maxPortmapRecord, nil)
				if err != nil {
					return
				}
				reply := p.answer(rec)
				if reply == nil {
					return
				}
				c.SetWriteDeadline(time.Now().Add(portmapTimeout))
				if _, err := c.Write(reply.Record()); err != nil {
					return
				}
			}
		}()
	}
}

func (p *portmapper) serveUDP() {
	defer p.wg.Done()
	buf := make([]byte, 9000)
	for {
		n, from, err := p.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		if reply := p.answer(buf[:n]); reply != nil {
			p.udp.WriteTo(reply.Record()[4:], from) // UDP carries no record mark
		}
	}
}

// answer serves one PMAP call; nil means drop the connection.
func (p *portmapper) answer(rec []byte) *xdrWriter {
	h, args, err := parseCall(rec)
	switch {
	case errors.Is(err, errNotCall):
		return nil
	case errors.Is(err, errRPCVersion):
		return deniedReply(h.xid, rejectRPCMismatch, 2, 2)
	case err != nil:
		return newReply(h.xid, acceptGarbageArgs)
	}
	if h.prog != progPortmap {
		return newReply(h.xid, acceptProgUnavail)
	}
	if h.vers != 2 {
		return progMismatchReply(h.xid, 2, 2)
	}
	switch h.proc {
	case pmapProcNull:
		return newReply(h.xid, acceptSuccess)
	case pmapProcSet, pmapProcUnset:
		// Others may not register with us: we are not a general rpcbind.
		w := newReply(h.xid, acceptSuccess)
		w.Bool(false)
		return w
	case pmapProcGetport:
		var m mapping
		var errs [4]error
		m.prog, errs[0] = args.Uint32()
		m.vers, errs[1] = args.Uint32()
		m.prot, errs[2] = args.Uint32()
		_, errs[3] = args.Uint32()
		if errors.Join(errs[:]...) != nil {
			return newReply(h.xid, acceptGarbageArgs)
		}
		w := newReply(h.xid, acceptSuccess)
		w.Uint32(p.lookup(m))
		return w
	case pmapProcDump:
		w := newReply(h.xid, acceptSuccess)
		for _, m := range p.maps {
			w.Bool(true)
			w.Uint32(m.prog)
			w.Uint32(m.vers)
			w.Uint32(m.prot)
			w.Uint32(m.port)
		}
		w.Bool(false)
		return w
	}
	return newReply(h.xid, acceptProcUnavail)
}

func (p *portmapper) lookup(q mapping) uint32 {
	for _, m := range p.maps {
		if m.prog == q.prog && m.vers == q.vers && m.prot == q.prot {
			return m.port
		}
	}
	return 0
}

// register adds our mappings to the rpcbind on this machine.
func (p *portmapper) register(port int) error {
	p.rpcbind = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for _, m := range p.maps {
		// Replace any stale registration of a previous run first.
		_, _ = pmapCall(p.rpcbind, pmapProcUnset, m)
		ok, err := pmapCall(p.rpcbind, pmapProcSet, m)
		if err != nil {
			return fmt.Errorf("register with rpcbind at %s: %w", p.rpcbind, err)
		}
		if !ok {
			return fmt.Errorf("rpcbind at %s refused to register program %d version %d: another NFS server (kernel nfsd, nfs-ganesha) probably holds it; stop that server (`rpcinfo -p` shows who)", p.rpcbind, m.prog, m.vers)
		}
	}
	return nil
}

func (p *portmapper) close() {
	switch p.mode {
	case "builtin":
		if p.tcp != nil {
			p.tcp.Close()
			p.udp.Close()
		}
	case "rpcbind":
		for _, m := range p.maps {
			_, _ = pmapCall(p.rpcbind, pmapProcUnset, m)
		}
		p.mode = "off"
	}
}

// pmapCall makes one PMAP SET/UNSET/GETPORT call over UDP and returns its
// boolean (or non-zero port) result.
func pmapCall(addr string, proc uint32, m mapping) (bool, error) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return false, err
	}
	defer c.Close()
	w := &xdrWriter{}
	xid := uint32(time.Now().UnixNano())
	for _, v := range []uint32{xid, rpcCall, 2, progPortmap, 2, proc, authNone, 0, authNone, 0, m.prog, m.vers, m.prot, m.port} {
		w.Uint32(v)
	}
	buf := make([]byte, 512)
	for attempt := 0; attempt < 3; attempt++ {
		if _, err := c.Write(w.Bytes()); err != nil {
			return false, err
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		if err != nil {
			continue
		}
		r := xdr.NewDecoder(buf[:n])
		gotXid, _ := r.Uint32()
		if gotXid != xid {
			continue
		}
		var hdr [4]uint32 // REPLY, MSG_ACCEPTED, verf flavor, verf len
		for i := range hdr {
			hdr[i], _ = r.Uint32()
		}
		r.Fixed(int(hdr[3])) // verifier body
		stat, _ := r.Uint32()
		res, err := r.Uint32()
		if hdr[1] != msgAccepted || stat != acceptSuccess || err != nil {
			return false, fmt.Errorf("rpcbind rejected the call")
		}
		return res != 0, nil
	}
	return false, fmt.Errorf("no answer from %s", addr)
}
