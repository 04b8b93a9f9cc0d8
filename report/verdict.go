package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/esxsink/esxsink/custody"
)

// stepVerdict judges one file.verified or file.failed record on its own.
// The hashes are compared again here: a record that says verified while
// its hashes disagree is a mismatch, whatever the record claims.
func stepVerdict(verified bool, d custody.Step) (Verdict, string) {
	if bad := disagreement(d.HostHashes, d.SinkHashes, d.AtRest); bad != "" {
		return Mismatch, "the recorded hashes differ: " + bad
	}
	if verified {
		if len(d.HostHashes) == 0 {
			return Failed, "recorded as verified but no host-side hash is recorded"
		}
		return Verified, ""
	}
	if strings.HasPrefix(d.Error, "mismatch") {
		return Mismatch, d.Error
	}
	if d.Error == "" {
		return Failed, "the copy did not verify (no reason recorded)"
	}
	return Failed, d.Error
}

// disagreement compares each algorithm across the host, arrival and
// at-rest hashes and describes the differences ("" when they agree).
func disagreement(host, arrival, atRest map[string]string) string {
	algs := map[string]bool{}
	for _, m := range []map[string]string{host, arrival, atRest} {
		for k := range m {
			algs[k] = true
		}
	}
	var out []string
	for _, alg := range slices.Sorted(maps.Keys(algs)) {
		var parts []string
		seen := map[string]bool{}
		for _, s := range []struct {
			name string
			m    map[string]string
		}{{"host", host}, {"on arrival", arrival}, {"at rest", atRest}} {
			if v, ok := s.m[alg]; ok {
				parts = append(parts, s.name+" "+v)
				seen[v] = true
			}
		}
		if len(seen) > 1 {
			out = append(out, alg+": "+strings.Join(parts, ", "))
		}
	}
	return strings.Join(out, "; ")
}

// finish assembles the report from what the records said.
func (l *loader) finish(r *Report, recs []custody.Record) {
	r.Case = l.c
	claimed := map[string]bool{}
	for _, f := range l.files {
		fin, ok := l.finalized[f.Path]
		if !ok {
			continue
		}
		claimed[f.Path] = true
		f.Anomalies = fin.Anomalies
		if f.Arrival == nil {
			f.Arrival = fin.Hashes
		}
		if f.Size == 0 {
			f.Size = fin.Size
		}
		if f.AtRest == nil {
			f.AtRest = fin.AtRest
		}
	}
	// Files the sink finalized that no orchestrator record judged: the
	// manual procedure, or an attempt a retry replaced.
	for _, p := range l.finOrder {
		if claimed[p] {
			continue
		}
		fin := l.finalized[p]
		f := &File{Path: p, Size: fin.Size, Arrival: fin.Hashes, AtRest: fin.AtRest, Anomalies: fin.Anomalies,
			Time: fin.rec.Time, Line: fin.rec.Line, Verdict: Received,
			Reason: "received and hashed by the sink; no host-side hash is recorded for it (copied by hand, or an attempt that a retry replaced)"}
		if next := l.replacement(p); next != nil {
			// An earlier copy a retry or a sector-by-sector re-read
			// replaced: it belongs with the file that replaced it.
			f.Source, f.VM, f.VMID, f.Host, f.RunID, f.Kind = next.Source, next.VM, next.VMID, next.Host, next.RunID, next.Kind
			f.Reason = "an earlier copy, kept on the sink as it was received; the acquisition's verdict rests on " + next.Path
		}
		if bad := disagreement(nil, fin.Hashes, fin.AtRest); bad != "" {
			f.Verdict, f.Reason = Mismatch, "the sink's hashes on arrival and at rest differ: "+bad
		}
		if next := l.replacement(p); next != nil {
			// Listed just before the copy that replaced it.
			i := slices.Index(l.files, next)
			l.files = slices.Insert(l.files, i, f)
			continue
		}
		l.files = append(l.files, f)
	}
	l.applyVerifies()

	vmIdx := map[string]int{}
	for _, f := range l.files {
		if strings.HasPrefix(f.Path, ArtifactPrefix) {
			r.Artifacts.Files = append(r.Artifacts.Files, *f)
			continue
		}
		key := fmt.Sprintf("%s\x00%d\x00%s\x00%v", f.Host, f.VMID, f.VM, f.Kind == KindCheck)
		i, ok := vmIdx[key]
		if !ok {
			i = len(r.VMs)
			vmIdx[key] = i
			vm := VM{Name: f.VM, ID: f.VMID, Host: f.Host}
			vm.Title = groupTitle(vm, f.Kind == KindCheck)
			r.VMs = append(r.VMs, vm)
		}
		r.VMs[i].Files = append(r.VMs[i].Files, *f)
	}
	r.Hosts, r.Runs, r.Skipped, r.Snapshots, r.Commands = l.hosts, l.runs, l.skipped, l.snaps, l.commands
	r.Artifacts.Outputs = l.artifacts
	r.Notes = l.notes
	r.Anomalies = l.events
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
	r.Summary = summarize(r)
}

// replacement returns the judged file that replaced the copy at path p
// (the tool writes retries as p.attemptN), nil if none.
func (l *loader) replacement(p string) *File {
	for _, f := range l.files {
		if rest, ok := strings.CutPrefix(f.Path, p+".attempt"); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			return f
		}
	}
	return nil
}

// applyVerifies lets the last verification recorded after each file's
// record overrule the verdict of acquisition time.
func (l *loader) applyVerifies() {
	for _, f := range l.files {
		var last *Verify
		for i := range l.verifies {
			if l.verifies[i].Line > f.Line {
				last = &l.verifies[i]
			}
		}
		if last == nil || f.Path == "" {
			continue
		}
		f.CheckedAt = last.Time
		var verdict custody.AtRest
		for _, fv := range last.FailedFiles {
			if fv.Path == f.Path {
				verdict = fv.Verdict
			}
		}
		if verdict == "" {
			continue
		}
		var what []string
		for _, fd := range last.Failures {
			if fd.File == f.Path {
				s := fd.What
				if fd.Piece != nil {
					s = fd.Piece.String() + ": " + s
				}
				what = append(what, s)
			}
		}
		why := fmt.Sprintf("esxsink verify at %s found it %s", last.Time.UTC().Format(time.RFC3339), verdict)
		if len(what) > 0 {
			why += ": " + strings.Join(what, "; ")
		}
		if f.Verdict.Good() {
			f.Verdict, f.Reason = NotVerified, why
		} else {
			f.Reason += "; later, " + why
		}
	}
}

// summarize counts verdicts and states the outcome in one sentence.
func summarize(r *Report) Summary {
	s := Summary{Skipped: len(r.Skipped)}
	var bad []string
	for _, vm := range r.VMs {
		for _, f := range vm.Files {
			s.count(f)
			if !f.Verdict.Good() {
				bad = append(bad, f.Path)
			}
		}
	}
	for _, f := range r.Artifacts.Files {
		s.count(f)
		if !f.Verdict.Good() {
			bad = append(bad, f.Path)
		}
	}
	var problems []string
	if n := s.Mismatch + s.Failed + s.NotVerified; n > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d evidence files are not verified (%s)", n, s.Files, clipList(bad, 5)))
	}
	failures := 0
	for _, e := range r.Anomalies {
		if e.Kind != KindNotice {
			s.Anomalies++
		}
		if e.Kind == KindFailure {
			failures++
		}
	}
	if !r.Log.ChainOK {
		problems = append(problems, "the custody log's hash chain is broken")
	}
	for _, sn := range r.Snapshots {
		if sn.Removed.IsZero() {
			problems = append(problems, fmt.Sprintf("snapshot %q of VM %q is not recorded as removed", sn.Name, sn.VM))
		}
	}
	var lastV *Verify
	if n := len(r.Verifies); n > 0 {
		lastV = &r.Verifies[n-1]
		if !lastV.OK {
			problems = append(problems, fmt.Sprintf("the last verification (%s) FAILED with %d failure(s)", lastV.Time.UTC().Format(time.RFC3339), len(lastV.Failures)))
		}
	}
	if len(problems) == 0 && failures > 0 {
		problems = append(problems, fmt.Sprintf("%d failure(s) were recorded during the acquisition (see Anomalies)", failures))
	}
	if s.Files == 0 {
		problems = append(problems, "no evidence file is recorded in this case")
	}
	if len(problems) > 0 {
		st := strings.Join(problems, "; ") + "."
		s.Statement = strings.ToUpper(st[:1]) + st[1:]
		return s
	}
	s.OK = true
	s.Statement = fmt.Sprintf("All %d evidence files are verified", s.Files)
	if s.Received > 0 {
		s.Statement = fmt.Sprintf("All %d evidence files are intact: %d verified against the host's hashes, %d received by the sink without a host-side hash", s.Files, s.Verified, s.Received)
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

func (s *Summary) count(f File) {
	s.Files++
	s.Bytes += f.Size
	switch f.Verdict {
	case Verified:
		s.Verified++
	case Received:
		s.Received++
	case Mismatch:
		s.Mismatch++
	case Failed:
		s.Failed++
	case NotVerified:
		s.NotVerified++
	}
}

// clipList joins at most n items and says how many more there are.
func clipList(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}
