package nfsclient

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"

	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/nfssink"
)

// memLog is an in-memory custody log for the sink under test.
type memLog struct {
	mu   sync.Mutex
	recs []hashlog.Record
}

func (l *memLog) Append(typ string, data any) (hashlog.Record, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return hashlog.Record{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := hashlog.Record{Type: typ, Data: b}
	l.recs = append(l.recs, r)
	return r, nil
}

func (l *memLog) count(typ string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Type == typ {
			n++
		}
	}
	return n
}

type testSink struct {
	*nfssink.Sink
	evidence string
	pmPort   int
	log      *memLog
}

// freePort returns a TCP and UDP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// startSink runs the real evidence sink with its builtin portmapper.
func startSink(t testing.TB) *testSink {
	t.Helper()
	dir := t.TempDir()
	log := &memLog{}
	pm := freePort(t)
	s, err := nfssink.New(nfssink.Config{
		EvidenceDir: filepath.Join(dir, "evidence"), StateDir: filepath.Join(dir, ".esxsink"),
		Address: "127.0.0.1", NFSPortAuto: true, Portmap: "builtin", PortmapPort: pm,
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, IdleFinalize: -1,
		Log: log, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close("test done") })
	return &testSink{Sink: s, evidence: filepath.Join(dir, "evidence"), pmPort: pm, log: log}
}

var root = Auth{Machine: "esxsim-test", UID: 0, GID: 0}
