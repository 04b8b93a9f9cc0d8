package orchestrator

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/esxsink/esxsink/esxsim"
	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/nfssink"
)

// simEnv is a simulated host, an embedded sink and an SSH connection to
// the host, as collect sets them up.
type simEnv struct {
	host    *esxsim.Host
	sink    *nfssink.Sink
	pmPort  int
	caseDir string
	log     *hashlog.Log
	conn    *Conn
	runner  *Runner
}

// freeDualPort returns a port free for TCP and UDP a moment ago.
func freeDualPort(t testing.TB) int {
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

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startSim starts a sink and a host from scenario (a file, or YAML text
// when it contains a newline) and connects to the host.
func startSim(t *testing.T, scenario string) *simEnv {
	t.Helper()
	var sc *esxsim.Scenario
	var err error
	if filepath.Ext(scenario) == ".yaml" {
		sc, err = esxsim.LoadScenario(filepath.Join("..", scenario))
	} else {
		sc, err = esxsim.ParseScenario([]byte(scenario))
	}
	if err != nil {
		t.Fatal(err)
	}
	e := &simEnv{caseDir: t.TempDir(), pmPort: freeDualPort(t)}
	if e.log, err = hashlog.Open(e.caseDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.log.Close() })
	e.sink, err = nfssink.New(nfssink.Config{
		EvidenceDir: hashlog.EvidenceDir(e.caseDir), StateDir: filepath.Join(e.caseDir, ".esxsink"),
		Address: "127.0.0.1", NFSPortAuto: true, Portmap: "builtin", PortmapPort: e.pmPort,
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, IdleFinalize: -1,
		Log: e.log, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sink.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.sink.Close("test done") })
	e.host, err = esxsim.New(sc, esxsim.Config{PortmapPort: e.pmPort, Heartbeat: 500 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.host.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.host.Close() })
	hk, err := PinnedHostKey(e.host.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	pw := e.host.Password()
	e.conn, err = DialSSH(context.Background(), SSHOptions{
		Addr: e.host.Addr().String(), User: e.host.User(), HostKey: hk,
		Password: func(context.Context, string, string, string) (string, error) { return pw, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.conn.Close() })
	if e.runner, err = NewRunner(e.conn, e.log, filepath.Join(e.caseDir, "host-commands")); err != nil {
		t.Fatal(err)
	}
	return e
}
