package orchestrator

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/esxsink/esxsink/esxsim"
	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/internal/sinktest"
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

func quietLogger() *slog.Logger { return sinktest.Discard() }

// startSim starts a sink and a host from scenario (a file, or YAML text
// when it contains a newline) and connects to the host.
func startSim(t testing.TB, scenario string) *simEnv {
	t.Helper()
	sc := loadSimScenario(t, scenario)
	e := newSimCase(t)
	ts := sinktest.Start(t, sinktest.Options{CaseDir: e.caseDir, Log: e.log})
	e.sink, e.pmPort = ts.Sink, ts.PortmapPort
	e.startHost(t, sc, esxsim.Config{PortmapPort: e.pmPort})
	return e
}

// loadSimScenario reads scenario: a .yaml file named from the repository
// root, or YAML text.
func loadSimScenario(t testing.TB, scenario string) *esxsim.Scenario {
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
	return sc
}

// newSimCase makes a case folder with its custody log; the sink and the
// host are started on it next.
func newSimCase(t testing.TB) *simEnv {
	t.Helper()
	e := &simEnv{caseDir: t.TempDir()}
	var err error
	if e.log, err = hashlog.Open(e.caseDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.log.Close() })
	return e
}

// startHost starts the simulated host for sc (cfg without Heartbeat or
// Logger gets the tests' ones), connects to it over SSH as collect does,
// and makes the Runner that logs every command into the case.
func (e *simEnv) startHost(t testing.TB, sc *esxsim.Scenario, cfg esxsim.Config) {
	t.Helper()
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	var err error
	if e.host, err = esxsim.New(sc, cfg); err != nil {
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
}
