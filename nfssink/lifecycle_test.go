package nfssink

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/internal/peer"
)

// TestIdleFinalizeAndLateWrite: a file nobody writes for --idle-finalize is
// finalized on its own; a write after that reopens it as an anomaly and the
// next finalization hashes it from disk, so the record matches the content.
func TestIdleFinalizeAndLateWrite(t *testing.T) {
	t.Parallel()
	ts := newTestSink(t, func(c *Config) { c.IdleFinalize = 150 * time.Millisecond })
	c := dialRPC(t, ts.NFSAddr().String())
	_, root := c.mount("/esxsink")
	_, fh := c.create(root, "late.bin", createGuarded)
	c.write(fh, 0, []byte("first part."), unstable)
	deadline := time.Now().Add(5 * time.Second)
	for len(ts.log.of(custody.TypeFileFinalized)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle file was not finalized")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var first custody.FileFinalized
	json.Unmarshal(ts.log.of(custody.TypeFileFinalized)[0].Data, &first)
	if first.Reason != custody.FinalizeIdle || first.Size != 11 {
		t.Fatalf("idle record: %+v", first)
	}
	if st, _, _, _, _ := c.write(fh, 11, []byte(" late part."), unstable); st != nfs3OK {
		t.Fatalf("late write refused: %d", st)
	}
	if n := len(ts.log.of(custody.TypeFileResumed)); n != 1 {
		t.Fatalf("%d file.resumed records, want 1", n)
	}
	res, err := ts.Finalize(context.Background(), "late.bin", "api", 22, false)
	if err != nil {
		t.Fatal(err)
	}
	if !res.FromDisk || len(res.Anomalies) == 0 || !strings.Contains(strings.Join(res.Anomalies, ";"), "after the file was finalized") {
		t.Fatalf("late write not flagged: %+v", res)
	}
	want := "first part. late part."
	if d, _ := digestString(want); res.Hashes["sha256"] != d {
		t.Fatalf("hash after late write does not match content %q", want)
	}
}

// TestEventStream: the control API streams custody events as they happen.
func TestEventStream(t *testing.T) {
	t.Parallel()
	ts := newTestSink(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sock, err := ts.ServeControl(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cl := NewClient(ts.cfg.StateDir)
	var mu sync.Mutex
	var types []string
	got, subscribed := make(chan struct{}), make(chan struct{})
	go cl.Events(ctx, func(raw json.RawMessage) error {
		var e Event
		json.Unmarshal(raw, &e)
		mu.Lock()
		types = append(types, e.Type)
		switch e.Type {
		case EventSubscribed:
			close(subscribed)
		case custody.TypeFileFinalized:
			close(got)
		}
		mu.Unlock()
		return nil
	})
	select { // the stream's first event: nothing after it is missed
	case <-subscribed:
	case <-ctx.Done():
		t.Fatal("the event stream never started")
	}
	src := randomFile(t, 1<<20)
	run(t, nfsCp(t), src, ts.url("ev.bin"))
	res, err := cl.Finalize(ctx, FinalizeRequest{Path: "ev.bin", AtRest: true})
	if err != nil || res.AtRest == nil || res.Size != 1<<20 {
		t.Fatalf("finalize over the control API (%s): %+v %v", sock, res, err)
	}
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no file.finalized event")
	}
	mu.Lock()
	defer mu.Unlock()
	joined := strings.Join(types, ",")
	for _, want := range []string{custody.TypeMountAccepted, custody.TypeFileCreated, custody.TypeFileFinalized} {
		if !strings.Contains(joined, want) {
			t.Fatalf("event stream %q lacks %s", joined, want)
		}
	}
	st, err := cl.Status(ctx)
	if err != nil || len(st.Finalized) != 1 || st.Finalized[0].Path != "ev.bin" {
		t.Fatalf("status: %+v %v", st, err)
	}
	if _, err := cl.Finalize(ctx, FinalizeRequest{Path: "nope.bin"}); err == nil {
		t.Fatal("finalize of an unknown file succeeded")
	}
}

// TestReadBackThroughGoNFS: reads pass through to go-nfs and return the
// evidence exactly (libnfs nfs-cat).
func TestReadBackThroughGoNFS(t *testing.T) {
	t.Parallel()
	cat := peer.Require(t, "nfs-cat")
	ts := newTestSink(t, nil)
	src := randomFile(t, 3<<20+5)
	run(t, nfsCp(t), src, ts.url("rb.bin"))
	out, err := exec.Command(cat, ts.url("rb.bin")).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := mustRead(t, src)
	if !bytes.Equal(out, want) {
		t.Fatalf("nfs-cat returned %d bytes, differing from the %d written", len(out), len(want))
	}
}

// TestFinalizeAfterRestartFromDisk: a file left unfinalized by a sink that
// died can be finalized by the next one; its hashes come from disk and the
// log says so.
func TestFinalizeAfterRestartFromDisk(t *testing.T) {
	t.Parallel()
	caseDir := t.TempDir()
	a := startTestSink(t, caseDir, &memLog{}, nil)
	c := dialRPC(t, a.NFSAddr().String())
	_, root := c.mount("/esxsink")
	_, fh := c.create(root, "orphan.bin", createGuarded)
	c.write(fh, 0, []byte("orphaned data"), fileSync)
	// No Close: as if the process had died, nothing is finalized.
	a.cancel()
	a.nfsLn.Close()

	log := &memLog{}
	b := startTestSink(t, caseDir, log, nil)
	res, err := b.Finalize(context.Background(), "orphan.bin", "api", 13, true)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := digestString("orphaned data")
	if res.Hashes["sha256"] != want || !res.FromDisk || len(log.of(custody.TypeFileResumed)) != 1 {
		t.Fatalf("orphan finalized as %+v", res)
	}
	if _, err := b.Finalize(context.Background(), "../../etc/passwd", "api", -1, false); err == nil {
		t.Fatal("finalize outside the evidence folder accepted")
	}
	if _, err := b.Finalize(context.Background(), "missing.bin", "api", -1, false); err == nil {
		t.Fatal("finalize of a missing file accepted")
	}
}
