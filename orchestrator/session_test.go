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
