package nfsclient

import (
	"testing"

	"github.com/esxsink/esxsink/internal/sinktest"
)

// startSink runs the real evidence sink with its builtin portmapper.
func startSink(t testing.TB) *sinktest.Sink {
	t.Helper()
	return sinktest.Start(t, sinktest.Options{})
}

var root = Auth{Machine: "esxsim-test", UID: 0, GID: 0}
