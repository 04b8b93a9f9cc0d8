package orchestrator

import (
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
