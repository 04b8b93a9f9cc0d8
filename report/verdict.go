package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/esxsink/esxsink/custody"
)

// finish assembles the report: the verdicts come from custody.Assess,
// the one model collect and verify use, so the three cannot disagree.
func (l *loader) finish(r *Report, recs []custody.Record) {
	r.Case = l.c
	a := custody.Assess(recs, nil)
	a.AddLogFindings(r.Log.Findings)
	vmIdx := map[string]int{}
	group := func(f File, check bool) {
		kept := strings.HasPrefix(f.Kind, custody.KeptKind)
		key := fmt.Sprintf("%s\x00%d\x00%s\x00%v\x00%v", f.Host, f.VMID, f.VM, check, kept)
		i, ok := vmIdx[key]
		if !ok {
			i = len(r.VMs)
			vmIdx[key] = i
			vm := VM{Name: f.VM, ID: f.VMID, Host: f.Host}
			vm.Title = groupTitle(vm, check)
			if kept {
				vm.Title = "vCenter-side evidence read through the API of " + f.Host + " and written by esxsink (verified: the SHA-256 of the bytes written equals the one re-read at rest; there is no host-side hash)"
			}
			r.VMs = append(r.VMs, vm)
		}
		r.VMs[i].Files = append(r.VMs[i].Files, f)
	}
	for _, f := range a.Files {
		switch {
		case f.Verdict == StateNotCollected:
			r.NotCollected = append(r.NotCollected, f)
		case f.Verdict == StateSkipped:
			// Listed with its reason under Skipped.
		case strings.HasPrefix(f.Path, ArtifactPrefix):
			r.Artifacts.Files = append(r.Artifacts.Files, f)
		default:
			group(f, false)
		}
	}
	for _, c := range a.Checks {
		group(c, true)
	}
	r.Hosts, r.Runs, r.Skipped, r.Snapshots, r.Commands = l.hosts, l.runs, l.skipped, l.snaps, l.commands
	r.Artifacts.Outputs = l.artifacts
	r.Notes = l.notes
	r.Anomalies = l.events
	r.Clocks = l.clocks
	for _, f := range r.Log.Findings {
		kind := KindNotice
		if f.Severity == custody.Failure {
			kind = KindFailure
		}
		r.Anomalies = append(r.Anomalies, Event{Line: f.Line, Type: "custody log", Kind: kind, Text: f.String()})
	}
	slices.SortStableFunc(r.Anomalies, func(a, b Event) int { return a.Line - b.Line })
	for _, v := range l.verifies {
		for _, rec := range recs {
			if rec.Line > v.Line {
				v.After++
			}
		}
		r.Verifies = append(r.Verifies, v)
	}
	if fl := custody.NewFleet(recs, a); fl.IsFleet() {
		r.Fleet = buildFleet(r, fl, a, l.changes)
	}
	r.Summary = summarize(r, a)
}

// summarize counts verdicts and states the outcome in one sentence. It
// says PASS (OK) only when the assessment finds the case complete and
// intact, which is when collect exits 0 and verify would too.
func summarize(r *Report, a *custody.Assessment) Summary {
	s := Summary{Counts: a.Counts, Problems: a.Problems, Verdict: a.Verdict().String()}
	for _, e := range r.Anomalies {
		if e.Kind != KindNotice {
			s.Anomalies++
		}
	}
	var problems []string
	if r.Fleet != nil {
		// A host refused or not fully collected leads: the case is
		// incomplete whatever its files say.
		problems = fleetProblems(r.Fleet)
		if len(problems) > 0 && s.Verdict == custody.Complete.String() {
			s.Verdict = custody.Incomplete.String()
		}
	}
	for _, p := range a.Problems {
		problems = append(problems, p.What)
	}
	var lastV *Verify
	if n := len(r.Verifies); n > 0 {
		lastV = &r.Verifies[n-1]
		if !lastV.OK && len(problems) == 0 {
			// What the records alone cannot show (a file in the evidence
			// folder that no record covers) the verification saw.
			problems = append(problems, fmt.Sprintf("the last verification (%s) did not pass (%s)", lastV.Time.UTC().Format(time.RFC3339), orDash(lastV.Verdict)))
			if s.Verdict == custody.Complete.String() {
				s.Verdict = custody.IntegrityFailure.String()
				if lastV.Verdict == custody.Incomplete.String() {
					s.Verdict = lastV.Verdict
				}
			}
		}
	}
	if len(problems) > 0 {
		st := clipList(problems, 6) + "."
		s.Statement = fmt.Sprintf("%s: %s", a.Counts, st)
		if r.Fleet != nil {
			s.Statement = fmt.Sprintf("%s, %s; %s", s.Verdict, FleetLine(r.Fleet), s.Statement)
		}
		return s
	}
	s.OK = true
	s.Statement = fmt.Sprintf("All %d evidence files are whole and intact: %s", a.Counts.Files, a.Counts)
	if r.Fleet != nil {
		s.Statement = FleetLine(r.Fleet) + ". " + s.Statement
	}
	switch {
	case lastV == nil:
		s.Statement += "; esxsink verify has not been recorded for this case."
	case lastV.After > 0:
		s.Statement += fmt.Sprintf("; the last verification (%s) passed, and %d record(s) were added after it.", lastV.Time.UTC().Format(time.RFC3339), lastV.After)
	default:
		s.Statement += fmt.Sprintf("; the last verification (%s) passed.", lastV.Time.UTC().Format(time.RFC3339))
	}
	return s
}

// clipList joins at most n items and says how many more there are.
func clipList(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(items[:n], "; "), len(items)-n)
}
