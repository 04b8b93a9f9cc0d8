package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/hashlog"
)

// assertAccounted checks the one rule on a run that went wrong: every
// planned copy is in the report by name with a state, the custody log
// names it with the same state, and the counts of the two agree.
func assertAccounted(t *testing.T, e *simEnv, rep *Outcome, planned int) {
	t.Helper()
	if rep == nil {
		t.Fatal("no report")
	}
	if len(rep.Files) != planned {
		t.Errorf("%d files in the report, %d planned", len(rep.Files), planned)
	}
	var mine Counts
	for _, f := range rep.Files {
		if f.Item.Source == "" || f.Item.Dest == "" {
			t.Errorf("a file without a name: %+v", f)
		}
		switch {
		case f.Verified:
			mine.Verified++
		case f.CopiedLive:
			mine.CopiedLive++
		case f.NotStarted:
			mine.NotStarted++
			if f.Error == "" {
				t.Errorf("%s not started without a reason", f.Item.Source)
			}
		default:
			mine.Failed++
			if f.Error == "" {
				t.Errorf("%s failed without a reason", f.Item.Source)
			}
		}
	}
	recs, _, err := hashlog.ReadLog(hashlog.LogPath(e.caseDir))
	if err != nil {
		t.Fatal(err)
	}
	a := custody.Assess(recs, nil)
	var logged Counts
	for _, f := range a.Files {
		if f.RunID != rep.RunID || f.Verdict == custody.Superseded || f.Verdict == custody.Skipped || f.Verdict == custody.NotCollected {
			continue
		}
		if f.Source == "" {
			t.Errorf("the log has a file without a source: %+v", f)
		}
		switch f.Verdict {
		case custody.Verified:
			logged.Verified++
		case custody.CopiedLive:
			logged.CopiedLive++
		case custody.NotStarted:
			logged.NotStarted++
		default:
			logged.Failed++
		}
	}
	if mine != logged {
		t.Errorf("the report counts %+v, the custody log %+v", mine, logged)
	}
	if mine.Verified+mine.CopiedLive != planned && a.Verdict() == custody.Complete {
		t.Errorf("the case reads complete although %d of %d files were not acquired", planned-mine.Verified-mine.CopiedLive, planned)
	}
}

// Counts tallies a report's files the way assertAccounted compares them.
type Counts struct{ Verified, CopiedLive, NotStarted, Failed int }

// failingLog is a custody log whose disk fills after after appends.
type failingLog struct {
	Recorder
	mu    sync.Mutex
	after int
}

func (l *failingLog) Append(typ string, data any) (custody.Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.after <= 0 {
		return custody.Record{}, fmt.Errorf("write custody.jsonl: %w", syscall.ENOSPC)
	}
	l.after--
	return l.Recorder.Append(typ, data)
}

// TestCollectStopsWhenTheLogFails: a custody log that cannot be written
// stops the run (no file is acquired without its record), the error says
// so, and the host is still left as found.
func TestCollectStopsWhenTheLogFails(t *testing.T) {
	// Before the run touches the host, and in the middle of its copies.
	for _, after := range []int{12, 30} {
		t.Run(fmt.Sprint(after), func(t *testing.T) { collectWithFailingLog(t, after) })
	}
}

func collectWithFailingLog(t *testing.T, after int) {
	e := startSim(t, smallLab)
	before := snapCounts(e)
	inv, err := Discover(context.Background(), e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	vms, _ := SelectVMs(inv, []string{"Ubuntu", "Unused server"}, false, false)
	plan := MakePlan(vms, PlanOptions{SinkFree: -1})
	rep, err := Collect(context.Background(), plan, CollectOptions{
		Runner: e.runner, Log: &failingLog{Recorder: e.log, after: after}, Sink: e.sink, Host: e.conn.Addr(),
		SinkHost: "127.0.0.1", Logger: quietLogger(), UnmountBackoff: 50e6,
	})
	if !errors.Is(err, ErrCustodyLog) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("collect with a failing custody log: %v, want ErrCustodyLog with its cause (ENOSPC)", err)
	}
	verified := 0
	for _, f := range rep.Files {
		if f.Verified {
			verified++
		}
	}
	if verified == len(plan.Copies()) {
		t.Errorf("every file was acquired although the log failed")
	}
	assertClean(t, e, before)
}
