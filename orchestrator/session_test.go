package orchestrator

import (
	"context"
	"errors"
	"testing"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/hashlog"
)

// TestSessionSteps runs a session as collect does: open, discover, plan,
// collect; each step leaves its records, and a selection that names what
// the host does not hold is a SelectionError.
func TestSessionSteps(t *testing.T) {
	t.Parallel()
	e := startSim(t, smallLab)
	ctx := context.Background()
	s, err := OpenSession(e.conn, SessionOptions{Log: e.log, User: "root", RunID: "5e55101d", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Plan(Selection{All: true}, PlanOptions{}); err == nil {
		t.Error("planned before discovering")
	}
	inv, err := s.Discover(ctx)
	if err != nil || s.Inventory != inv {
		t.Fatalf("discover: %v", err)
	}
	var se *SelectionError
	if _, err := s.Plan(Selection{VMs: []string{"no such VM"}}, PlanOptions{}); !errors.As(err, &se) {
		t.Errorf("unknown VM: %v", err)
	}
	if _, err := s.Plan(Selection{VMs: []string{"Unused server"}, Devices: []string{"mpx.nothing"}}, PlanOptions{}); !errors.As(err, &se) || !errors.Is(err, ErrNoDevice) {
		t.Errorf("unknown device: %v", err)
	}
	plan, err := s.Plan(Selection{VMs: []string{"Unused server"}}, PlanOptions{SinkFree: -1})
	if err != nil || len(plan.Copies()) == 0 || len(plan.Datastores) == 0 {
		t.Fatalf("plan: %v %+v", err, plan)
	}
	rep, err := s.Collect(ctx, plan, CollectOptions{Sink: e.sink, SinkHost: "127.0.0.1", UnmountBackoff: 50e6})
	if err != nil || !rep.OK() || rep.RunID != "5e55101d" {
		t.Fatalf("collect: %v %+v", err, rep)
	}
	assertClean(t, e, nil)
	recs, _, err := hashlog.ReadLog(hashlog.LogPath(e.caseDir))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range recs {
		count[r.Type]++
	}
	if count[custody.TypeNote] == 0 || count[custody.TypeHostIdentified] != 1 || count[custody.TypeHostClock] != 2 || count[custody.TypeFileVerified] != len(plan.Copies()) {
		t.Errorf("records: %v", count)
	}
}

// TestResumeAsksTheSink: a file an earlier run verified is resumed only
// when the sink still holds its evidence file at the verified size;
// otherwise it is copied again.
func TestResumeAsksTheSink(t *testing.T) {
	e := startSim(t, smallLab)
	if _, _, err := collectAll(t, e, []string{"Unused server"}, false, false); err != nil {
		t.Fatalf("first run: %v", err)
	}
	done, err := VerifiedInCase(e.caseDir, e.conn.Addr())
	flat := "/vmfs/volumes/datastore1/Unused server/Unused server-flat.vmdk"
	if err != nil || done[flat].Size != 4<<20 {
		t.Fatalf("verified in case: %v %+v", err, done)
	}
	gone := done[flat]
	gone.Dest += ".elsewhere" // as if the evidence file were missing
	done[flat] = gone
	_, rep, err := collectOpts(t, e, []string{"Unused server"}, false, false, func(o *CollectOptions) { o.Resume = done })
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	var resumed int
	for _, f := range rep.Files {
		if f.Item.Source == flat && (f.Resumed || !f.Verified) {
			t.Errorf("the disk whose evidence file is gone: resumed %v, verified %v (%s)", f.Resumed, f.Verified, f.Error)
		}
		if f.Resumed {
			resumed++
		}
	}
	if resumed == 0 {
		t.Error("nothing resumed")
	}
}
