package nfssink

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/esxsink/esxsink/custody"
)

// Limits bound what clients can make the sink hold. A few ESXi hosts use
// a handful of connections each; nothing a client sends grows the sink's
// memory past these, and a client that stops reading is paced by TCP
// back-pressure and then disconnected, not buffered for.
type Limits struct {
	// MaxConns caps NFS connections; more are refused at accept
	// (default 32).
	MaxConns int
	// IdleTimeout closes a connection that sends no record for this long
	// (default 6 min, as knfsd; ESXi reconnects).
	IdleTimeout time.Duration
	// RecordTimeout bounds the time from a record's first byte to its
	// last (default 30 s): a record trickled in is dropped.
	RecordTimeout time.Duration
	// WriteTimeout bounds sending one reply (default 30 s): a client that
	// does not read its replies is disconnected.
	WriteTimeout time.Duration
	// BufferedRecords caps the records all connections together may hold
	// in memory at once, each up to about 1 MiB (default 32: ESXi keeps a
	// few WRITEs in flight per connection).
	BufferedRecords int
	// RefusalInterval is how often, at most, refusals of one client are
	// recorded; the record counts the refusals since (default 1 min).
	RefusalInterval time.Duration
}

func (l *Limits) defaults() {
	if l.MaxConns <= 0 {
		l.MaxConns = 32
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 6 * time.Minute
	}
	if l.RecordTimeout <= 0 {
		l.RecordTimeout = 30 * time.Second
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = 30 * time.Second
	}
	if l.BufferedRecords <= 0 {
		l.BufferedRecords = 32
	}
	if l.RefusalInterval <= 0 {
		l.RefusalInterval = time.Minute
	}
}

// recordBudget counts the record buffers held by all connections; a
// connection waits for a slot before it reads a record's body, so the
// sink's record memory is bounded whatever clients send.
type recordBudget struct{ slots chan struct{} }

func newRecordBudget(n int) *recordBudget { return &recordBudget{slots: make(chan struct{}, n)} }

// take waits for a slot; false when done ends first.
func (b *recordBudget) take(done <-chan struct{}) bool {
	select {
	case b.slots <- struct{}{}:
		return true
	case <-done:
		return false
	}
}

func (b *recordBudget) give() { <-b.slots }

// maxRefusalClients bounds the per-client refusal table; beyond it,
// refusals are counted under one entry.
const maxRefusalClients = 1024

// admission decides at accept whether a connection is served.
type admission struct {
	lim     Limits
	allowed func(netip.Addr) bool
	record  func(client netip.Addr, reason string, count int)

	mu      sync.Mutex
	active  int
	refused map[netip.Addr]*refusal
	now     func() time.Time
}

// refusal counts one client's refused connections since the last record.
type refusal struct {
	last    time.Time
	pending int
}

func newAdmission(lim Limits, allowed func(netip.Addr) bool, record func(netip.Addr, string, int)) *admission {
	return &admission{lim: lim, allowed: allowed, record: record, refused: map[netip.Addr]*refusal{}, now: time.Now}
}

// accept admits nc or refuses it; release must be called when an
// admitted connection ends.
func (a *admission) accept(nc net.Conn) (release func(), ok bool) {
	client := remoteAddr(nc)
	if !a.allowed(client) {
		a.refuse(client, "client address not in the allowed networks")
		return nil, false
	}
	a.mu.Lock()
	if a.active >= a.lim.MaxConns {
		a.mu.Unlock()
		a.refuse(client, fmt.Sprintf("connection limit reached (%d open)", a.lim.MaxConns))
		return nil, false
	}
	a.active++
	a.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			a.active--
			a.mu.Unlock()
		})
	}, true
}

// refuse counts a refusal and records it when the client's interval has
// passed: the first at once, later ones with the count since.
func (a *admission) refuse(client netip.Addr, reason string) {
	a.mu.Lock()
	key := client
	if _, ok := a.refused[key]; !ok && len(a.refused) >= maxRefusalClients {
		key = netip.Addr{} // every further client counted together
	}
	r, ok := a.refused[key]
	if !ok {
		r = &refusal{}
		a.refused[key] = r
	}
	r.pending++
	now := a.now()
	due := r.last.IsZero() || now.Sub(r.last) >= a.lim.RefusalInterval
	n := r.pending
	if due {
		r.last, r.pending = now, 0
	}
	a.mu.Unlock()
	if due {
		a.record(key, reason, n)
	}
}

// recordRefusal writes one policy.refused record for count refused
// connections of client.
func (s *Sink) recordRefusal(client netip.Addr, reason string, count int) {
	who := client.String()
	if !client.IsValid() {
		who = "(other clients)"
	}
	if count > 1 {
		reason = fmt.Sprintf("%s; %d connections refused since the last record", reason, count)
	}
	s.log.Warn("refused NFS connection", "client", who, "reason", reason)
	s.record(custody.TypePolicyRefused, custody.PolicyRefused{Client: who, Procedure: "connect", Reason: reason})
}

// flush records the refusals counted since each client's last record, so
// that none goes unmentioned when the sink stops.
func (a *admission) flush(reason string) {
	a.mu.Lock()
	type pending struct {
		client netip.Addr
		n      int
	}
	var out []pending
	for c, r := range a.refused {
		if r.pending > 0 {
			out = append(out, pending{c, r.pending})
			r.pending = 0
		}
	}
	a.mu.Unlock()
	for _, p := range out {
		a.record(p.client, reason, p.n)
	}
}
