// Package sinktest starts a real evidence sink (nfssink) for the tests of
// other packages: the NFS client, the simulated ESXi host and the
// orchestrator all need one listening on loopback with its builtin
// portmapper, and a custody log they can inspect afterwards.
//
// It is a non-test package so that those packages' tests can import it;
// production code must not.
package sinktest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/internal/memlog"
	"github.com/esxsink/esxsink/nfssink"
)

// Sink is a started sink; Start registers its Close on t.
type Sink struct {
	*nfssink.Sink
	// CaseDir holds the evidence folder and the sink's state.
	CaseDir string
	// Evidence is the exported folder, hashlog.EvidenceDir(CaseDir).
	Evidence string
	// PortmapPort is where the builtin portmapper listens (TCP and UDP).
	PortmapPort int
	// Log is the in-memory custody log, or nil when Options.Log was given.
	Log *MemLog
}

// Options adjusts Start; the zero value is a fresh case with a MemLog.
type Options struct {
	// CaseDir is the case folder (default t.TempDir()).
	CaseDir string
	// Log receives the sink's records, e.g. a real *hashlog.Log on CaseDir
	// (default a new MemLog).
	Log nfssink.CustodyLog
	// Logger is the sink's slog logger (default discards).
	Logger *slog.Logger
}

// Start runs the real sink on 127.0.0.1 with an automatic NFS port, a
// builtin portmapper on a free port, loopback allowed and idle finalization
// off, so tests decide when files are finalized.
func Start(t testing.TB, o Options) *Sink {
	t.Helper()
	if o.CaseDir == "" {
		o.CaseDir = t.TempDir()
	}
	ts := &Sink{CaseDir: o.CaseDir, Evidence: hashlog.EvidenceDir(o.CaseDir), PortmapPort: FreePort(t)}
	if o.Log == nil {
		ts.Log = &MemLog{}
		o.Log = ts.Log
	}
	if o.Logger == nil {
		o.Logger = Discard()
	}
	s, err := nfssink.New(nfssink.Config{
		EvidenceDir: ts.Evidence, StateDir: filepath.Join(o.CaseDir, ".esxsink"),
		Address: "127.0.0.1", NFSPortAuto: true, Portmap: "builtin", PortmapPort: ts.PortmapPort,
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, IdleFinalize: -1,
		Log: o.Log, Logger: o.Logger, ScratchPrefixes: []string{esxi.LockFilePrefix},
	})
	if err != nil {
		t.Fatalf("sinktest: configure sink on %s: %v", o.CaseDir, err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("sinktest: start sink on %s: %v", o.CaseDir, err)
	}
	t.Cleanup(func() { s.Close("test done") })
	ts.Sink = s
	return ts
}

// FreePort returns a loopback port that was free for both TCP and UDP a
// moment ago: the sink's portmapper listens on both, so a port free only
// for TCP would make Start fail now and then.
func FreePort(t testing.TB) int {
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
	t.Fatal("sinktest: no port free for both TCP and UDP after 20 tries")
	return 0
}

// Discard is a logger that drops everything, for quiet tests.
func Discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// MemLog is the in-memory custody log Start gives a sink by default.
type MemLog = memlog.Log
