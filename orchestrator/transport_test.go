package orchestrator

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
)

// controlSink is a Sink that takes no streams (as a serve reached through
// its control API).
type controlSink struct{}

func (controlSink) Finalize(context.Context, string, string, int64, bool) (custody.FileFinalized, error) {
	return custody.FileFinalized{}, nil
}
func (controlSink) OpenEvidence(context.Context, string) (io.ReadSeekCloser, error) { return nil, nil }
func (controlSink) MakeDir(string) error                                            { return nil }
func (controlSink) Supersede(string, string, string) (*custody.FileSuperseded, error) {
	return nil, nil
}

func TestNewTransport(t *testing.T) {
	t.Parallel()
	o := CollectOptions{Sink: controlSink{}, SinkHost: "10.0.0.5"}
	tr, err := newTransport(&o)
	if _, ok := tr.(nfsTransport); err != nil || !ok || o.Transport != TransportNFS || !tr.zeroFills() || !tr.canLoseSink() {
		t.Errorf("default: %T %v %q", tr, err, o.Transport)
	}
	// A caller's mistake in the options, with no sentinel: no caller
	// acts on one differently from another, and the message says which.
	for _, c := range []struct {
		o    CollectOptions
		want string
	}{
		{CollectOptions{Sink: controlSink{}}, "needs the address"},
		{CollectOptions{Sink: controlSink{}, Transport: TransportSFTP}, "receives streams"},
		{CollectOptions{Sink: controlSink{}, SinkHost: "x", Transport: "scp"}, `unknown transport "scp"`},
	} {
		if _, err := newTransport(&c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
	tr, err = newTransport(&CollectOptions{Transport: TransportSFTP})
	if _, ok := tr.(sftpTransport); err != nil || !ok || tr.zeroFills() || tr.canLoseSink() {
		t.Errorf("sftp: %T %v", tr, err)
	}
}
