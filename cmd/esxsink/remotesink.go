package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/nfssink"
)

// remoteSink is a running `esxsink serve`, driven through its control API:
// it finalizes files and, because serve holds the case's custody log,
// appends collect's records to it.
type remoteSink struct {
	client *nfssink.Client
}

// sinkCaseDir resolves --sink: the case folder a serve runs on, or
// unix://PATH of its control socket (CASE/.esxsink/control.sock).
func sinkCaseDir(v string) (string, error) {
	if p, ok := strings.CutPrefix(v, "unix://"); ok {
		if filepath.Base(p) != filepath.Base(nfssink.ControlSocketPath(stateDir("x"))) {
			return "", fmt.Errorf("--sink %s: a unix:// URL names the control socket of a serve, CASE/.esxsink/control.sock", v)
		}
		return filepath.Dir(filepath.Dir(p)), nil
	}
	if fi, err := os.Stat(v); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("--sink %s: give the case folder a running esxsink serve uses (or unix://CASE/.esxsink/control.sock)", v)
	}
	return v, nil
}

// connectSink checks that a serve answers on caseDir's control socket.
func connectSink(ctx context.Context, caseDir string) (*remoteSink, nfssink.Status, error) {
	s := &remoteSink{client: nfssink.NewClient(stateDir(caseDir))}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := s.client.Status(cctx)
	if err != nil {
		return nil, st, fmt.Errorf("--sink %s: %w", caseDir, err)
	}
	return s, st, nil
}

// Finalize asks the serve to finalize rel; ctx bounds the request (the
// serve stops re-reading the file when the request goes away).
func (s *remoteSink) Finalize(ctx context.Context, rel, reason string, expectedSize int64, atRest bool) (custody.FileFinalized, error) {
	req := nfssink.FinalizeRequest{Path: rel, AtRest: atRest, Reason: reason}
	if expectedSize >= 0 {
		req.ExpectedSize = &expectedSize
	}
	return s.client.Finalize(ctx, req)
}

// OpenEvidence reads an evidence file of the serve read-only.
func (s *remoteSink) OpenEvidence(ctx context.Context, rel string) (io.ReadSeekCloser, error) {
	return s.client.OpenEvidence(ctx, rel)
}

// MakeDir asks the serve to create an evidence folder. Like the records,
// it is not cancelled with the collect: the orchestrator calls it on its
// way to copy and to clean up.
func (s *remoteSink) MakeDir(rel string) error {
	return s.client.MakeDir(context.Background(), rel)
}

// Supersede asks the serve to move the attempt at rel aside.
func (s *remoteSink) Supersede(rel, run, reason string) (*custody.FileSuperseded, error) {
	return s.client.Supersede(context.Background(), nfssink.SupersedeRequest{Path: rel, Run: run, Reason: reason})
}

// Append writes a custody record through the serve; a record is written
// whatever happens to the collect, so no context stops it.
func (s *remoteSink) Append(typ string, data any) (custody.Record, error) {
	return s.client.Append(context.Background(), typ, data)
}

// Status is the serve's state for the progress display; a failed call
// shows nothing rather than stopping the copy.
func (s *remoteSink) Status() nfssink.Status {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := s.client.Status(ctx)
	if err != nil {
		return nfssink.Status{}
	}
	return st
}
