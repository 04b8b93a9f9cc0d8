package custody

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// judge reads records in log order and keeps what the verdicts need.
type judge struct {
	a *Assessment

	created   map[string]int // evidence path -> line of file.created
	finalized map[string]finalEntry
	finOrder  []string
	// written holds paths written after they were finalized, with why.
	written map[string]Problem
	// partial holds paths the sink could not write in full (disk full,
	// write error), with why.
	partial map[string]Problem

	runs    map[string]*RunState
	planned map[string]*FileState // run id + source -> planned copy
	plOrder []string
	// outcomes are the orchestrator's verdicts on evidence paths.
	outcomes map[string]*FileState
	outOrder []string
	// notStarted are planned copies reported as never started.
	notStarted []*FileState
	others     []FileState // skipped, not collected
	superseded map[string]string
	// moved maps where the sink moved an attempt (file.superseded's To)
	// to the path it left for the next attempt (From).
	moved    map[string]string
	snaps    []snapState
	verifies []verification
	// leases are the runs' lease files on hosts, by host and run id.
	leases  map[string]*leaseState
	leOrder []string
	// spoiled are evidence paths an anomaly says are not verified, with
	// why.
	spoiled map[string]Problem
	// kept are the files esxsink wrote into the case itself
	// (evidence.kept), by path, in log order.
	kept    map[string]*FileState
	keOrder []string
	// missedAt are the parts asked for and not collected, by the log line
	// of their record: a part kept later from the same source settles it.
	missedAt map[int]Uncollected
}

type leaseState struct {
	Lease
	line     int
	released bool
}

type finalEntry struct {
	FileFinalized
	line int
	time time.Time
}

type snapState struct {
	host, vm, name string
	vmid, id       int
	line           int
	removed        bool
}

type verification struct {
	CaseVerified
	line int
	time time.Time
}

func newJudge() *judge {
	return &judge{a: &Assessment{}, created: map[string]int{}, finalized: map[string]finalEntry{},
		written: map[string]Problem{}, partial: map[string]Problem{}, runs: map[string]*RunState{},
		planned: map[string]*FileState{}, outcomes: map[string]*FileState{}, superseded: map[string]string{},
		leases: map[string]*leaseState{}, spoiled: map[string]Problem{}, moved: map[string]string{}, kept: map[string]*FileState{}, missedAt: map[int]Uncollected{}}
}

func (j *judge) anomaly(line int, format string, args ...any) {
	j.a.Anomalies = append(j.a.Anomalies, Problem{Line: line, What: fmt.Sprintf(format, args...)})
}

func (j *judge) problem(integrity bool, line int, format string, args ...any) {
	j.a.Problems = append(j.a.Problems, Problem{Integrity: integrity, Line: line, What: fmt.Sprintf(format, args...)})
}

// take reads one record; one it cannot decode is a problem, not a stop.
func (j *judge) take(rec Record) {
	if err := j.takeRecord(rec); err != nil {
		j.problem(true, rec.Line, "record not understood: %v", err)
	}
}

func (j *judge) takeRecord(rec Record) error {
	switch rec.Type {
	case TypeFileCreated:
		var d FileCreated
		if err := rec.Decode(&d); err != nil {
			return err
		}
		j.created[d.Path] = rec.Line
	case TypeFileFinalized:
		var d FileFinalized
		if err := rec.Decode(&d); err != nil {
			return err
		}
		if prev, ok := j.finalized[d.Path]; ok && !sameContent(prev.FileFinalized, d) {
			j.written[d.Path] = Problem{Integrity: true, Line: rec.Line, What: fmt.Sprintf(
				"%s changed after it was finalized (log line %d: %d bytes, line %d: %d bytes)", d.Path, prev.line, prev.Size, rec.Line, d.Size)}
		} else if !ok {
			j.finOrder = append(j.finOrder, d.Path)
		}
		if d.FromDisk {
			j.anomaly(rec.Line, "%s: hashed from the file on disk (after a sink restart or a rewrite), not as its bytes arrived", d.Path)
		}
		j.finalized[d.Path] = finalEntry{d, rec.Line, rec.Time}
	case TypeFileResumed:
		var d FileResumed
		if err := rec.Decode(&d); err != nil {
			return err
		}
		if _, ok := j.finalized[d.Path]; ok {
			j.written[d.Path] = Problem{Integrity: true, Line: rec.Line, What: fmt.Sprintf(
				"%s was written to after it was finalized (%s)", d.Path, d.Reason)}
		} else {
			j.anomaly(rec.Line, "%s: taken up again with %d bytes already on disk (%s)", d.Path, d.SizeOnDisk, d.Reason)
		}
	case TypeNoSpace:
		var d NoSpace
		if err := rec.Decode(&d); err != nil {
			return err
		}
		j.partial[d.Path] = Problem{Line: rec.Line, What: fmt.Sprintf(
			"the evidence disk was full: a write of %d bytes at offset %d was refused (%d bytes free)", d.Length, d.Offset, d.FreeBytes)}
	case TypeWriteError:
		var d WriteAnomaly
		if err := rec.Decode(&d); err != nil {
			return err
		}
		j.partial[d.Path] = Problem{Line: rec.Line, What: fmt.Sprintf("the sink could not write it: %s", d.Kind)}
	case TypeFileSuperseded:
		var d FileSuperseded
		if err := rec.Decode(&d); err != nil {
			return err
		}
		j.move(rec, d)
	case TypeCaseVerified:
		var d CaseVerified
		if err := rec.Decode(&d); err != nil {
			return err
		}
		j.verifies = append(j.verifies, verification{d, rec.Line, rec.Time})
	case TypeNotCollected:
		var d Uncollected
		if err := rec.Decode(&d); err != nil {
			return err
		}
		j.others = append(j.others, FileState{Source: d.Path, VM: d.Name, VMID: d.VMID, Host: d.Host, RunID: d.RunID, Kind: d.What,
			Size: d.Size, Verdict: NotCollected, Reason: d.Why, Flag: d.Flag, Line: rec.Line, Time: rec.Time})
		if d.Missed {
			j.missedAt[rec.Line] = d
		}
		switch {
		case d.Missed && d.VMID == 0:
			// A VM chosen through vCenter has no vmid until its host is
			// reached (a refused host's never is).
			j.problem(false, rec.Line, "%s %q on %s was asked for but could not be collected: %s", d.What, d.Name, d.Host, d.Why)
		case d.Missed:
			j.problem(false, rec.Line, "%s %q (vmid %d) on %s was asked for but could not be collected: %s", d.What, d.Name, d.VMID, d.Host, d.Why)
		}
	case TypeEvidenceKept:
		var d Kept
		if err := rec.Decode(&d); err != nil {
			return err
		}
		j.keep(rec, d)
	case TypeLeaseCreated, TypeLeaseReleased, TypeCleanupRefused:
		var d Lease
		if err := rec.Decode(&d); err != nil {
			return err
		}
		j.lease(rec, d)
	case TypeAcquisitionStarted, TypeAcquisitionFinished, TypeRunFailed, TypeFilePlanned, TypeFileVerified,
		TypeFileCopiedLive, TypeFileFailed, TypeFileNotStarted, TypeFileSkipped, TypeSnapshotCreated,
		TypeSnapshotRemoved, TypeCleanupFailed, TypeMountChecked, TypeAcquisitionNote,
		TypeSnapshotVanished, TypeAnomaly, TypeLeftAlone:
		var d Step
		if err := rec.Decode(&d); err != nil {
			return err
		}
		j.step(rec, d)
	}
	return nil
}

// move follows the sink's move of an earlier attempt from d.From to d.To:
// what the log knows of the bytes at From (their finalization, creation,
// a partial write, the outcome judged on them, a planned copy that wrote
// them) now belongs to To, and From is free for the next attempt.
func (j *judge) move(rec Record, d FileSuperseded) {
	fin, ok := j.finalized[d.From]
	switch {
	case !ok:
		j.problem(true, rec.Line, "%s was moved from %s, which no file.finalized record vouches for", d.To, d.From)
	case fin.Size != d.Size || !sameContent(fin.FileFinalized, FileFinalized{Size: d.Size, Hashes: d.Hashes}):
		j.problem(true, rec.Line, "%s was moved from %s with other size or hashes than it was finalized with (log line %d)", d.To, d.From, fin.line)
	}
	if ok {
		delete(j.finalized, d.From)
		fin.Path = d.To
		j.finalized[d.To] = fin
		j.finOrder = slices.DeleteFunc(j.finOrder, func(p string) bool { return p == d.From })
		j.finOrder = append(j.finOrder, d.To)
	}
	if l, ok := j.created[d.From]; ok {
		j.created[d.To] = l
		delete(j.created, d.From)
	}
	for _, m := range []map[string]Problem{j.partial, j.written} {
		if pr, ok := m[d.From]; ok {
			m[d.To] = pr
			delete(m, d.From)
		}
	}
	if f, ok := j.outcomes[d.From]; ok {
		delete(j.outcomes, d.From)
		f.Path = d.To
		f.Reason = joinReason(fmt.Sprintf("moved by the sink from %s (log line %d) so a new copy could take the host's name", d.From, rec.Line),
			f.Verdict.String()+": "+f.Reason)
		f.Verdict = Superseded
		j.outcomes[d.To] = f
		j.outOrder = slices.DeleteFunc(j.outOrder, func(p string) bool { return p == d.From })
		j.outOrder = append(j.outOrder, d.To)
	}
	for _, k := range j.plOrder {
		if pl, ok := j.planned[k]; ok && pl.Path == d.From {
			pl.Path = d.To
		}
	}
	j.moved[d.To] = d.From
}

// sameContent reports whether two finalizations describe the same bytes.
func sameContent(a, b FileFinalized) bool {
	if a.Size != b.Size {
		return false
	}
	for alg, h := range a.Hashes {
		if o, ok := b.Hashes[alg]; ok && o != h {
			return false
		}
	}
	return true
}

func (j *judge) run(d Step, line int) *RunState {
	if d.RunID == "" {
		return nil
	}
	r, ok := j.runs[d.RunID]
	if !ok {
		r = &RunState{ID: d.RunID, Host: d.Host, Line: line}
		j.runs[d.RunID] = r
	}
	return r
}

func stepFile(rec Record, d Step) *FileState {
	return &FileState{Path: d.Dest, Source: d.Source, VM: d.VM, VMID: d.VMID, Host: d.Host, RunID: d.RunID, Kind: d.Kind,
		Method: d.Method, Live: d.Live, Note: d.Note, Size: d.Size, PlannedSize: d.PlannedSize, SizeAtStart: d.SizeAtStart,
		SizeAtEnd: d.SizeAtEnd, HostHashes: d.HostHashes, Arrival: d.SinkHashes, AtRest: d.AtRest, ReadErrors: countSame(d.ReadErrors),
		BadSectors: d.BadSectors, Attempts: d.Attempt, Time: rec.Time, Line: rec.Line}
}

func planKey(run, source string) string { return run + "\x00" + source }

func (j *judge) step(rec Record, d Step) {
	r := j.run(d, rec.Line)
	switch rec.Type {
	case TypeAcquisitionStarted:
		if r != nil {
			r.Started = rec.Time
		}
	case TypeAcquisitionFinished:
		if r != nil {
			r.Finished = rec.Time
			if d.Error != "" {
				r.Error = d.Error
			}
		}
		if d.Error != "" {
			j.anomaly(rec.Line, "run %s ended with an error: %s", d.RunID, d.Error)
		}
	case TypeRunFailed:
		if r != nil {
			r.Failed, r.Error, r.Finished = true, d.Error, rec.Time
		}
		j.anomaly(rec.Line, "run %s failed: %s", orDash(d.RunID), d.Error)
	case TypeFilePlanned:
		f := stepFile(rec, d)
		f.Verdict, f.Reason = NotStarted, "planned, but the run recorded no outcome for it (the run was cut off)"
		f.PlannedSize = max(f.PlannedSize, d.Size)
		k := planKey(d.RunID, d.Source)
		if _, ok := j.planned[k]; !ok {
			j.plOrder = append(j.plOrder, k)
		}
		j.planned[k] = f
	case TypeFileVerified, TypeFileCopiedLive, TypeFileFailed:
		f := stepFile(rec, d)
		f.Verdict, f.Reason = stepVerdict(rec.Type, d)
		j.settle(d)
		for _, s := range d.Superseded {
			j.superseded[s] = d.Dest
		}
		if f.Path == "" {
			// A failure of no evidence path (the copy never created one):
			// it stays a planned copy that did not happen, by name.
			if f.Verdict == Failed || f.Verdict == Mismatch {
				j.notStarted = append(j.notStarted, f)
			}
			return
		}
		if _, ok := j.outcomes[f.Path]; !ok {
			j.outOrder = append(j.outOrder, f.Path)
		}
		j.outcomes[f.Path] = f
	case TypeFileNotStarted:
		f := stepFile(rec, d)
		f.Path, f.Verdict, f.Reason = "", NotStarted, d.Error
		if f.Reason == "" {
			f.Reason = d.Note
		}
		j.settle(d)
		j.notStarted = append(j.notStarted, f)
	case TypeFileSkipped:
		f := stepFile(rec, d)
		f.Verdict, f.Reason = Skipped, d.Note
		j.settle(d)
		f.Path = "" // a resumed file's evidence is judged by its own record
		j.others = append(j.others, *f)
	case TypeSnapshotCreated:
		j.snaps = append(j.snaps, snapState{host: d.Host, vm: d.VM, vmid: d.VMID, name: d.Snapshot, id: d.SnapID, line: rec.Line})
	case TypeSnapshotRemoved:
		j.snapshotGone(d)
	case TypeSnapshotVanished:
		// Gone is gone: the host no longer holds it, whoever removed it.
		// That someone else did, under a running copy, is the anomaly.
		j.snapshotGone(d)
		j.anomaly(rec.Line, "our snapshot %q (id %d) of VM %q on %s vanished: it was removed by someone else (%s)", d.Snapshot, d.SnapID, d.VM, d.Host, orDash(d.Error+d.Note))
		j.spoil(rec.Line, d, fmt.Sprintf("our snapshot %q vanished while it was read: not one moment's image", d.Snapshot))
	case TypeAnomaly:
		j.anomaly(rec.Line, "run %s on %s: %s", orDash(d.RunID), d.Host, orDash(d.Note+d.Error))
		j.spoil(rec.Line, d, d.Note)
	case TypeLeftAlone:
		j.anomaly(rec.Line, "left alone on %s (looks like ours, is not provably ours): %s", d.Host, d.Note)
	case TypeCleanupFailed:
		j.problem(false, rec.Line, "cleanup on %s failed, the host was not left as found: %s", d.Host, d.Error)
	case TypeMountChecked:
		j.check(rec, d)
	case TypeAcquisitionNote:
		if d.Dest != "" && d.Source == "" {
			// Before mount.checked existed, the mount check was a note
			// with the file it wrote.
			j.check(rec, d)
		}
	}
}

// keep judges a file esxsink wrote itself: verified when the hash of
// the bytes written and the hash re-read from disk agree. The last
// record of a path is the one that counts.
func (j *judge) keep(rec Record, d Kept) {
	f := &FileState{Path: d.Path, Source: d.What, Host: d.Source, RunID: d.RunID, Kind: KeptKind + d.Name, Size: d.Size,
		Arrival: map[string]string{"sha256": d.SHA256}, AtRest: map[string]string{"sha256": d.AtRest}, Time: rec.Time, Line: rec.Line, Verdict: Verified}
	switch bad := Disagreement(nil, f.Arrival, f.AtRest); {
	case d.SHA256 == "" || d.AtRest == "":
		f.Verdict, f.Reason = Failed, "kept, but the record lacks the hash of the bytes written or of the file at rest"
	case bad != "":
		f.Verdict, f.Reason = Mismatch, "the file re-read from disk is not what was written: "+bad
	}
	if _, ok := j.kept[d.Path]; !ok {
		j.keOrder = append(j.keOrder, d.Path)
	}
	j.kept[d.Path] = f
}

// settleKept: a part of the API-side evidence recorded as not collected
// and kept by a later run from the same source (the examiner fixed the
// privilege and ran again) is no longer missing; the earlier record
// stays, as superseded.
func (j *judge) settleKept() {
	for i := range j.others {
		o := &j.others[i]
		d, missed := j.missedAt[o.Line]
		if !missed || o.Verdict != NotCollected {
			continue
		}
		for _, p := range j.keOrder {
			k := j.kept[p]
			if k.Host == d.Host && k.Kind == KeptKind+d.Name && k.Line > o.Line && k.Verdict.Good() {
				o.Verdict, o.Reason = Superseded, joinReason(fmt.Sprintf("kept later (log line %d) as %s", k.Line, k.Path), "not collected: "+o.Reason)
				j.a.Problems = slices.DeleteFunc(j.a.Problems, func(pr Problem) bool { return pr.Line == o.Line && !pr.Integrity })
				break
			}
		}
	}
}

// snapshotGone marks the snapshot d names as no longer on its host.
func (j *judge) snapshotGone(d Step) {
	for i := len(j.snaps) - 1; i >= 0; i-- {
		s := &j.snaps[i]
		if s.host == d.Host && s.vmid == d.VMID && s.name == d.Snapshot && s.id == d.SnapID && !s.removed {
			s.removed = true
			return
		}
	}
}

// spoil marks the files an anomaly affects as not verified.
func (j *judge) spoil(line int, d Step, why string) {
	for _, p := range d.Affected {
		j.spoiled[p] = Problem{Line: line, What: why}
	}
}

// lease follows a run's lease file: created, released, or found alive by
// a cleanup that then refused to touch the run.
func (j *judge) lease(rec Record, d Lease) {
	k := d.Host + "\x00" + d.RunID
	switch rec.Type {
	case TypeLeaseCreated:
		if _, ok := j.leases[k]; !ok {
			j.leOrder = append(j.leOrder, k)
		}
		j.leases[k] = &leaseState{Lease: d, line: rec.Line}
	case TypeLeaseReleased:
		if l, ok := j.leases[k]; ok {
			l.released = true
		}
	case TypeCleanupRefused:
		j.anomaly(rec.Line, "cleanup on %s refused to undo run %s (workstation %s, case %s, heartbeat %ds old): %s",
			d.Host, d.RunID, orDash(d.Workstation), orDash(d.Case), d.AgeSeconds, d.Note)
	}
}

func (j *judge) check(rec Record, d Step) {
	j.a.Checks = append(j.a.Checks, FileState{Path: d.Dest, Host: d.Host, RunID: d.RunID, Kind: "mount-check",
		Source: "(written by esxsink on the host)", Note: d.Note, Time: rec.Time, Line: rec.Line, Verdict: Verified})
}

// settle marks the planned copy d reports on as accounted for.
func (j *judge) settle(d Step) {
	delete(j.planned, planKey(d.RunID, d.Source))
}

// stepVerdict judges one orchestrator outcome record on its own. The
// hashes are compared again: a record that says verified while its
// hashes disagree is a mismatch, whatever the record claims.
func stepVerdict(typ string, d Step) (State, string) {
	if bad := Disagreement(d.HostHashes, d.SinkHashes, d.AtRest); bad != "" {
		return Mismatch, "the recorded hashes differ: " + bad
	}
	sizes := d.SizeAtStart > 0 && d.SizeAtEnd > 0 && d.SizeAtStart != d.SizeAtEnd
	switch typ {
	case TypeFileVerified:
		switch {
		case len(d.HostHashes) == 0:
			return Failed, "recorded as verified but no host-side hash is recorded"
		case sizes:
			return Failed, fmt.Sprintf("recorded as verified but its size changed while copied (%d bytes before, %d after)", d.SizeAtStart, d.SizeAtEnd)
		case d.SizeAtStart > 0 && d.Size != d.SizeAtStart:
			return Failed, fmt.Sprintf("recorded as verified but %d bytes arrived of %d", d.Size, d.SizeAtStart)
		}
		return Verified, ""
	case TypeFileCopiedLive:
		switch {
		case len(d.HostHashes) == 0:
			return Failed, "copied live but no host-side hash is recorded"
		case !d.Live:
			// Only a file the plan could not freeze may change while read.
			return Failed, "recorded as copied live, but it was planned frozen: a frozen file that changes while copied is a failure"
		}
		why := "read while its VM could write it: the copy is what was read, not one moment's image"
		if sizes {
			why += fmt.Sprintf(" (%d bytes when the copy started, %d when it ended)", d.SizeAtStart, d.SizeAtEnd)
		}
		return CopiedLive, why
	}
	if strings.HasPrefix(d.Error, "mismatch") {
		return Mismatch, d.Error
	}
	if d.Error == "" {
		return Failed, "the copy did not verify (no reason recorded)"
	}
	return Failed, d.Error
}

// Disagreement compares each algorithm across the host, arrival and
// at-rest hashes and describes the differences ("" when they agree).
func Disagreement(host, arrival, atRest map[string]string) string {
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

// countSame folds repeated messages into one with a count: dd repeats
// the same line for every failed block.
func countSame(msgs []string) []string {
	var out []string
	n := map[string]int{}
	for _, m := range msgs {
		if n[m] == 0 {
			out = append(out, m)
		}
		n[m]++
	}
	for i, m := range out {
		if n[m] > 1 {
			out[i] = fmt.Sprintf("%s (%d times)", m, n[m])
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// isCheck reports whether path is a mount check file.
func (j *judge) isCheck(path string) bool {
	for _, c := range j.a.Checks {
		if c.Path == path {
			return true
		}
	}
	return false
}

// replacedBy returns the evidence path that replaced the attempt at p:
// named by a record, or p.attemptN, the name retries get.
func (j *judge) replacedBy(p string) string {
	if s, ok := j.moved[p]; ok {
		return s
	}
	if s, ok := j.superseded[p]; ok {
		return s
	}
	for _, q := range j.outOrder {
		if rest, ok := strings.CutPrefix(q, p+".attempt"); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			return q
		}
	}
	return ""
}

// plannedAt returns the planned copy, not yet accounted for, whose
// evidence path is p.
func (j *judge) plannedAt(p string) *FileState {
	for _, k := range j.plOrder {
		if f, ok := j.planned[k]; ok && f.Path == p {
			return f
		}
	}
	return nil
}

func (j *judge) finish(fresh *Checked) *Assessment {
	a := j.a
	var files []*FileState
	for _, p := range j.outOrder {
		f := j.outcomes[p]
		if fin, ok := j.finalized[p]; ok {
			f.Anomalies = fin.Anomalies
			if f.Arrival == nil {
				f.Arrival = fin.Hashes
			}
			if f.AtRest == nil {
				f.AtRest = fin.AtRest
			}
			if f.Size == 0 {
				f.Size = fin.Size
			}
		}
		files = append(files, f)
	}
	// What the sink holds that no outcome judged: a copy the run did not
	// finish, an attempt a retry replaced, or the manual procedure.
	sinkOnly := slices.Clone(j.finOrder)
	for p := range j.created {
		if _, ok := j.finalized[p]; !ok {
			sinkOnly = append(sinkOnly, p)
		}
	}
	slices.SortStableFunc(sinkOnly, func(x, y string) int { return j.firstLine(x) - j.firstLine(y) })
	for _, p := range sinkOnly {
		if _, judged := j.outcomes[p]; judged || j.isCheck(p) {
			continue
		}
		fin, finished := j.finalized[p]
		f := &FileState{Path: p, Line: j.created[p]}
		if finished {
			f.Size, f.Arrival, f.AtRest, f.Anomalies, f.Time, f.Line = fin.Size, fin.Hashes, fin.AtRest, fin.Anomalies, fin.time, fin.line
		}
		next := j.replacedBy(p)
		switch pl := j.plannedAt(p); {
		case j.moved[p] != "":
			from := j.moved[p]
			if pl != nil {
				*f = mergePlanned(*pl, *f)
				delete(j.planned, planKey(pl.RunID, pl.Source))
			} else if o := j.outcomes[from]; o != nil {
				f.Source, f.VM, f.VMID, f.Host, f.RunID, f.Kind = o.Source, o.VM, o.VMID, o.Host, o.RunID, o.Kind
			}
			f.Verdict = Superseded
			f.Reason = fmt.Sprintf("an earlier attempt (%d bytes), kept as it was received and moved here by the sink so a new copy could take the host's name; the verdict rests on %s", f.Size, from)
		case pl != nil:
			*f = mergePlanned(*pl, *f)
			f.Verdict = Failed
			f.Reason = fmt.Sprintf("partial: the run recorded no outcome for this copy; the sink holds %d of %d planned bytes", f.Size, pl.PlannedSize)
			delete(j.planned, planKey(pl.RunID, pl.Source))
		case !finished:
			f.Verdict, f.Reason = Failed, "created on the sink but never finalized: an interrupted copy"
		case next != "":
			if o := j.outcomes[next]; o != nil {
				f.Source, f.VM, f.VMID, f.Host, f.RunID, f.Kind = o.Source, o.VM, o.VMID, o.Host, o.RunID, o.Kind
			}
			f.Verdict, f.Reason = Superseded, "an earlier attempt, kept as it was received; the verdict rests on "+next
		default:
			f.Verdict, f.Reason = Received, "received and hashed by the sink; no host-side hash is recorded for it (copied by hand)"
		}
		if f.Verdict.Good() || f.Verdict == Superseded {
			if bad := Disagreement(nil, f.Arrival, f.AtRest); bad != "" {
				f.Verdict, f.Reason = Mismatch, "the sink's hashes on arrival and at rest differ: "+bad
			}
		}
		if next != "" && f.Verdict == Superseded {
			// Listed just before the copy that replaced it.
			if i := slices.IndexFunc(files, func(o *FileState) bool { return o.Path == next }); i >= 0 {
				files = slices.Insert(files, i, f)
				continue
			}
		}
		files = append(files, f)
	}
	for _, f := range files {
		if pr, ok := j.partial[f.Path]; ok && f.Verdict != Superseded {
			switch {
			case f.Verdict.Integrity():
				// A graver verdict stands; the partial write is part of why.
				f.Reason = joinReason(f.Reason, pr.What)
			case f.Verdict == Received:
				// What it received is not all there was.
				f.Verdict, f.Reason = Failed, pr.What
			default:
				f.Verdict, f.Reason = Failed, joinReason(pr.What, f.Reason)
			}
		}
		if pr, ok := j.written[f.Path]; ok {
			f.Verdict, f.Reason = NotVerified, joinReason(pr.What, f.Reason)
		}
		if pr, ok := j.spoiled[f.Path]; ok && f.Verdict.Good() {
			// Intact as received, but not what it claims to be: the case
			// is incomplete, not damaged.
			f.Verdict, f.Reason = Failed, joinReason(pr.What, f.Reason)
		}
	}
	// Planned copies with no outcome at all: the run ended first.
	for _, k := range j.plOrder {
		if f, ok := j.planned[k]; ok {
			f.Path = ""
			files = append(files, f)
		}
	}
	files = append(files, j.notStarted...)
	for _, p := range j.keOrder {
		files = append(files, j.kept[p])
	}
	supersedeRetaken(files)
	j.settleKept()
	j.applyChecks(files, fresh)
	for i := range a.Checks {
		c := &a.Checks[i]
		if fin, ok := j.finalized[c.Path]; ok {
			c.Size, c.Arrival, c.AtRest = fin.Size, fin.Hashes, fin.AtRest
		}
	}
	for _, f := range files {
		a.Files = append(a.Files, *f)
	}
	a.Files = append(a.Files, j.others...)
	for _, f := range a.Files {
		a.Counts.add(f)
	}
	j.judgeCase(fresh)
	return a
}

// supersedeRetaken marks a failed, partial or never started copy that a
// later record shows acquired whole (the same source of the same host,
// e.g. by collect --resume) as superseded by it: the case holds that
// source, and the earlier attempt stays on the sink as it was.
func supersedeRetaken(files []*FileState) {
	for _, f := range files {
		if f.Source == "" || !(f.Verdict.Incomplete() || f.Verdict == Mismatch) {
			continue
		}
		for _, g := range files {
			if g != f && g.Source == f.Source && g.Host == f.Host && g.Line > f.Line && g.Verdict.Good() && g.Path != "" {
				f.Reason = joinReason(fmt.Sprintf("acquired again later (log line %d) as %s", g.Line, g.Path), f.Verdict.String()+": "+f.Reason)
				f.Verdict = Superseded
				break
			}
		}
	}
}

func (j *judge) firstLine(p string) int {
	if l, ok := j.created[p]; ok {
		return l
	}
	return j.finalized[p].line
}

// mergePlanned fills what the sink knows into a planned copy.
func mergePlanned(pl, sink FileState) FileState {
	pl.Path, pl.Size, pl.Arrival, pl.AtRest, pl.Anomalies, pl.Line, pl.Time = sink.Path, sink.Size, sink.Arrival, sink.AtRest, sink.Anomalies, sink.Line, sink.Time
	return pl
}

func joinReason(first, rest string) string {
	if rest == "" {
		return first
	}
	return first + "; " + rest
}

// applyChecks lets a verification at rest overrule the verdicts of
// acquisition time: fresh applies to every file, otherwise the last
// case.verified applies to the files recorded before it.
func (j *judge) applyChecks(files []*FileState, fresh *Checked) {
	var checks []AtRestCheck
	var at time.Time
	line := 0
	switch {
	case fresh != nil:
		checks, at = fresh.Files, fresh.Time
	case len(j.verifies) > 0:
		v := j.verifies[len(j.verifies)-1]
		at, line = v.time, v.line
		why := map[string][]string{}
		for _, fd := range v.Failures {
			if fd.File != "" {
				s := fd.What
				if fd.Piece != nil {
					s = fd.Piece.String() + ": " + s
				}
				why[fd.File] = append(why[fd.File], s)
			}
		}
		for _, fv := range v.FailedFiles {
			checks = append(checks, AtRestCheck{Path: fv.Path, Verdict: fv.Verdict, Why: strings.Join(why[fv.Path], "; ")})
		}
	default:
		return
	}
	byPath := map[string]AtRestCheck{}
	for _, c := range checks {
		byPath[c.Path] = c
	}
	for _, f := range files {
		if f.Path == "" || (line > 0 && f.Line > line) {
			continue
		}
		f.CheckedAt = at
		c, ok := byPath[f.Path]
		if !ok || c.Verdict == RestIntact {
			continue
		}
		why := fmt.Sprintf("esxsink verify at %s found it %s", at.UTC().Format(time.RFC3339), c.Verdict)
		if c.Why != "" {
			why += ": " + c.Why
		}
		switch {
		case c.Verdict == RestPartial:
			if f.Verdict.Good() {
				f.Verdict, f.Reason = Failed, why
			}
		case f.Verdict.Good() || f.Verdict == Superseded:
			f.Verdict, f.Reason = NotVerified, why
		default:
			f.Reason = joinReason(f.Reason, "later, "+why)
		}
	}
}

// judgeCase turns the file states and runs into the case's problems.
func (j *judge) judgeCase(fresh *Checked) {
	a := j.a
	for _, f := range a.Files {
		name := f.Path
		if name == "" {
			name = f.Source
		}
		switch {
		case f.Verdict.Integrity():
			j.problem(true, f.Line, "%s is %s: %s", name, f.Verdict, f.Reason)
		case f.Verdict.Incomplete():
			j.problem(false, f.Line, "%s is %s: %s", name, f.Verdict, f.Reason)
		}
	}
	for _, c := range a.Checks {
		if pr, ok := j.written[c.Path]; ok {
			j.problem(true, pr.Line, "%s", pr.What)
		}
	}
	ids := slices.Collect(maps.Keys(j.runs))
	slices.SortFunc(ids, func(x, y string) int { return j.runs[x].Line - j.runs[y].Line })
	for _, id := range ids {
		r := j.runs[id]
		a.Runs = append(a.Runs, *r)
		if !r.Started.IsZero() && r.Finished.IsZero() {
			j.problem(false, r.Line, "run %s on %s was cut off: the log has no record of how it ended", r.ID, r.Host)
		}
	}
	for _, s := range j.snaps {
		if !s.removed {
			j.problem(false, s.line, "our snapshot %q (id %d) of VM %q on %s is not recorded as removed: the host was not left as found", s.name, s.id, s.vm, s.host)
		}
	}
	for _, k := range j.leOrder {
		if l := j.leases[k]; !l.released {
			j.problem(false, l.line, "the lease %s of run %s on %s is not recorded as removed: the host was not left as found", l.Path, l.RunID, l.Host)
		}
	}
	if fresh != nil {
		for _, c := range fresh.Files {
			if c.Verdict == RestUnlogged {
				j.problem(true, 0, "%s is in the case but no record covers it: %s", c.Path, c.Why)
			}
		}
		for _, p := range fresh.ChainProblems {
			j.problem(true, 0, "custody log: %s", p)
		}
	}
	if a.Counts.Files == 0 {
		j.problem(false, 0, "no evidence file is recorded in this case")
	}
}

// AddLogFindings adds what reading the custody log found: a failure (a
// broken chain, an unreadable line) is an integrity problem, a notice an
// anomaly.
func (a *Assessment) AddLogFindings(fs []Finding) {
	for _, f := range fs {
		p := Problem{Integrity: f.Severity == Failure, Line: f.Line, What: "custody log: " + f.What}
		if p.Integrity {
			p.What = "the custody log's hash chain is broken: " + f.What
		}
		if p.Integrity {
			a.Problems = append(a.Problems, p)
		} else {
			a.Anomalies = append(a.Anomalies, p)
		}
	}
}
