package esxsim

import (
	"testing"

	"github.com/esxsink/esxsink/internal/sinktest"
)

// testSink is the real evidence sink the simulated host mounts.
type testSink = sinktest.Sink

// startSink runs the real evidence sink with its builtin portmapper.
func startSink(t testing.TB) *testSink {
	t.Helper()
	return sinktest.Start(t, sinktest.Options{})
}

// startHostWithSink starts a host whose NFS client finds mountd through
// the sink's portmapper.
func startHostWithSink(t testing.TB, scenario string, mod func(*Config)) (*testHost, *testSink) {
	t.Helper()
	ts := startSink(t)
	th := startHost(t, loadScenario(t, scenario), func(c *Config) {
		c.PortmapPort = ts.PortmapPort
		if mod != nil {
			mod(c)
		}
	})
	return th, ts
}
