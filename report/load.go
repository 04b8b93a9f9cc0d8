package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/hashlog"
)

// ArtifactPrefix starts the evidence paths of files copied from the host
// itself (logs, configuration) rather than from a VM.
const ArtifactPrefix = custody.HostArtifactsFolder + "/"

// Load reads the case in caseDir and builds its report. It reads the
// custody log only; evidence is neither opened nor hashed. A log whose
// chain is damaged still loads: the damage is part of the report.
func Load(caseDir string) (*Report, error) {
	logPath := hashlog.LogPath(caseDir)
	if fi, err := os.Stat(logPath); err != nil || !fi.Mode().IsRegular() {
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", caseDir, hashlog.ErrNotCase)
		}
		return nil, fmt.Errorf("custody log %s: %w", logPath, err)
	}
	recs, findings, err := hashlog.ReadLog(logPath)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("custody log %s holds no readable record: nothing to report (run esxsink verify %s to see why)", logPath, caseDir)
	}
	l := newLoader()
	for _, rec := range recs {
		if err := l.add(rec); err != nil {
			// One unreadable record must not hide the rest: it is listed.
			l.event(rec, KindFailure, fmt.Sprintf("record not understood: %v", err))
		}
	}
	r := &Report{Generated: time.Now().UTC(), CaseDir: caseDir}
	if abs, err := filepath.Abs(caseDir); err == nil {
		r.CaseDir = abs // the report names the folder wherever it is read
	}
	last := recs[len(recs)-1]
	r.Log = LogState{Path: logPath, Records: len(recs), HeadSeq: last.Seq, Head: last.Hash, ChainOK: true, Findings: findings}
	for _, f := range findings {
		if f.Severity == custody.Failure {
			r.Log.ChainOK = false
		}
	}
	l.finish(r, recs)
	return r, nil
}

// loader accumulates what the records say, in log order.
type loader struct {
	c         Case
	hosts     []Host
	hostIdx   map[string]int
	runs      []Run
	runIdx    map[string]int
	clocks    []custody.HostClock
	skipped   []Skipped
	snaps     []Snapshot
	artifacts []Artifact
	commands  []Command
	events    []Event
	notes     []Event
	verifies  []Verify
	changes   []ServiceChange
}

func newLoader() *loader {
	return &loader{hostIdx: map[string]int{}, runIdx: map[string]int{}}
}

// add takes one record into the model; unknown types are left out.
func (l *loader) add(rec custody.Record) error {
	switch rec.Type {
	case custody.TypeCaseOpened:
		var d custody.CaseOpened
		if err := rec.Decode(&d); err != nil {
			return err
		}
		if l.c.ID != "" {
			return nil // a reopened case keeps its first record
		}
		sessions := l.c.Sessions
		l.c = Case{ID: d.CaseID, Examiner: d.Examiner, ToolVersion: d.ToolVersion, SinkHost: d.SinkHost, OS: d.OS, Opened: rec.Time, UTCOffset: d.UTCOffset,
			CaseDetails: d.CaseDetails, Sessions: sessions}
	case custody.TypeSessionOpened:
		var d custody.Session
		if err := rec.Decode(&d); err != nil {
			return err
		}
		l.c.Sessions = append(l.c.Sessions, Session{Session: d, Time: rec.Time, Line: rec.Line})
		fill := func(dst *string, v string) {
			if *dst == "" {
				*dst = v
			}
		}
		fill(&l.c.EvidenceNumber, d.EvidenceNumber)
		fill(&l.c.Description, d.Description)
		fill(&l.c.Notes, d.Notes)
	case custody.TypeHostIdentified:
		var d custody.HostIdentified
		if err := rec.Decode(&d); err != nil {
			return err
		}
		h := l.host(d.Address)
		*h = Host{HostIdentified: d, Identified: rec.Time, Recorded: true}
	case custody.TypeCommandRun:
		var d custody.CommandRun
		if err := rec.Decode(&d); err != nil {
			return err
		}
		l.host(d.Host)
		started, err := time.Parse(time.RFC3339Nano, d.Started)
		if err != nil {
			started = rec.Time
		}
		cmd := Command{N: len(l.commands) + 1, Host: d.Host, Command: d.Command, ExitStatus: d.ExitStatus, Started: started.UTC(),
			Seconds: d.DurationSec, StdoutSHA256: d.StdoutSHA256, StdoutBytes: d.StdoutBytes, StdoutFile: d.StdoutFile,
			StderrSHA256: d.StderrSHA256, StderrBytes: d.StderrBytes, StderrFile: d.StderrFile, Error: d.Error, Line: rec.Line}
		cmd.Status = commandStatus(cmd)
		l.commands = append(l.commands, cmd)
	case custody.TypeFileFinalized:
		var d custody.FileFinalized
		if err := rec.Decode(&d); err != nil {
			return err
		}
		if d.FromDisk {
			l.event(rec, KindAnomaly, fmt.Sprintf("%s: its hashes were computed from the file on disk (after a sink restart or a rewrite), not as its bytes arrived", d.Path))
		}
		for _, a := range d.Anomalies {
			l.event(rec, KindAnomaly, fmt.Sprintf("%s: the sink noted while receiving it: %s", d.Path, a))
		}
	case custody.TypeTriageOutput:
		return l.addArtifact(rec)
	case custody.TypeHostClock:
		var d custody.HostClock
		if err := rec.Decode(&d); err != nil {
			return err
		}
		l.clocks = append(l.clocks, d)
	case custody.TypeCaseVerified:
		var d custody.CaseVerified
		if err := rec.Decode(&d); err != nil {
			return err
		}
		l.verifies = append(l.verifies, Verify{Time: rec.Time, Line: rec.Line, Seq: rec.Seq, OK: d.OK, Verdict: d.Verdict, HeadSeq: d.HeadSeq, Head: d.Head,
			Files: d.Files, Verified: d.Verified, FailedFiles: d.FailedFiles, Failures: d.Failures, ToolVersion: d.ToolVersion})
	case custody.TypeHostServiceChanged:
		var d custody.ServiceChange
		if err := rec.Decode(&d); err != nil {
			return err
		}
		l.changes = append(l.changes, ServiceChange{ServiceChange: d, Time: rec.Time, Line: rec.Line})
		if d.Error != "" {
			l.event(rec, KindFailure, fmt.Sprintf("%s %s on %s through the API failed: %s", d.Service, d.Action, d.Host, d.Error))
		}
	default:
		if isStep(rec.Type) {
			var d custody.Step
			if err := rec.Decode(&d); err != nil {
				return err
			}
			l.addStep(rec, d)
			return nil
		}
		return l.addSinkEvent(rec)
	}
	return nil
}

func isStep(typ string) bool {
	switch typ {
	case custody.TypeAcquisitionStarted, custody.TypeAcquisitionFinished, custody.TypeNASMounted,
		custody.TypeNASUnmounted, custody.TypeSnapshotCreated, custody.TypeSnapshotRemoved,
		custody.TypeFileVerified, custody.TypeFileFailed, custody.TypeFileSkipped,
		custody.TypeCleanupFailed, custody.TypeAcquisitionNote, custody.TypeMountChecked, custody.TypeRunFailed,
		custody.TypeFileNotStarted, custody.TypeFileCopiedLive, custody.TypeFilePlanned,
		custody.TypeAnomaly, custody.TypeSnapshotVanished, custody.TypeLeftAlone:
		return true
	}
	return false
}

// host returns the host with address addr, adding one known only by its
// address if no record identified it yet.
func (l *loader) host(addr string) *Host {
	i, ok := l.hostIdx[addr]
	if !ok {
		i = len(l.hosts)
		l.hostIdx[addr] = i
		l.hosts = append(l.hosts, Host{HostIdentified: custody.HostIdentified{Address: addr, Update: -1, Patch: -1}})
	}
	return &l.hosts[i]
}

// run returns the acquisition run id, adding it on first sight.
func (l *loader) run(id, host string) *Run {
	i, ok := l.runIdx[id]
	if !ok {
		i = len(l.runs)
		l.runIdx[id] = i
		l.runs = append(l.runs, Run{ID: id, Host: host})
	}
	return &l.runs[i]
}

func (l *loader) event(rec custody.Record, kind, text string) {
	l.events = append(l.events, Event{Time: rec.Time, Line: rec.Line, Type: rec.Type, Kind: kind, Text: text})
}

func (l *loader) note(rec custody.Record, text string) {
	l.notes = append(l.notes, Event{Time: rec.Time, Line: rec.Line, Type: rec.Type, Kind: KindNotice, Text: text})
}

// addStep takes an orchestrator record.
func (l *loader) addStep(rec custody.Record, d custody.Step) {
	if d.Host != "" {
		l.host(d.Host)
	}
	var run *Run
	if d.RunID != "" {
		run = l.run(d.RunID, d.Host)
	}
	switch rec.Type {
	case custody.TypeAcquisitionStarted:
		if run != nil {
			run.Started, run.Label, run.Planned, run.Bytes, run.HostHashes = rec.Time, d.Label, d.Files, d.Size, d.HostHashAlgorithms
		}
	case custody.TypeAcquisitionFinished:
		if run != nil {
			run.Finished, run.Files, run.Failed, run.Error = rec.Time, d.Files, d.Failed, d.Error
		}
		if d.Error != "" {
			l.event(rec, KindFailure, "the acquisition run ended with an error: "+d.Error)
		}
	case custody.TypeNASMounted:
		if run != nil {
			run.Mounted, run.Share = rec.Time, d.Note
		}
	case custody.TypeNASUnmounted:
		if run != nil {
			run.Unmounted = rec.Time
		}
	case custody.TypeSnapshotCreated:
		l.snaps = append(l.snaps, Snapshot{VM: d.VM, VMID: d.VMID, Host: d.Host, Name: d.Snapshot, ID: d.SnapID, Created: rec.Time})
	case custody.TypeSnapshotRemoved:
		if s := l.snapshot(d); s != nil {
			s.Removed = rec.Time
		} else {
			l.event(rec, KindAnomaly, fmt.Sprintf("snapshot %q (id %d) of VM %q removed, but its creation is not in the log", d.Snapshot, d.SnapID, d.VM))
		}
	case custody.TypeCleanupFailed:
		l.event(rec, KindFailure, "cleanup failed: "+d.Error)
		for i := range l.snaps {
			s := &l.snaps[i]
			if s.Removed.IsZero() && s.Name != "" && strings.Contains(d.Error, fmt.Sprintf("%q", s.Name)) {
				s.CleanupError = d.Error
			}
		}
	case custody.TypeFileSkipped:
		l.skipped = append(l.skipped, Skipped{VM: d.VM, Source: d.Source, Size: d.Size, Why: d.Note, Time: rec.Time, Line: rec.Line})
	case custody.TypeAcquisitionNote, custody.TypeMountChecked:
		l.note(rec, d.Note)
	case custody.TypeRunFailed:
		if run != nil {
			run.Finished, run.Error = rec.Time, d.Error
		}
		l.event(rec, KindFailure, "the run failed: "+d.Error)
	case custody.TypeFileNotStarted:
		l.event(rec, KindFailure, fmt.Sprintf("%s (VM %q) was not copied: %s", d.Source, d.VM, d.Error))
	case custody.TypeFileFailed:
		l.event(rec, KindFailure, fmt.Sprintf("%s (from %s) did not verify: %s", orDash(d.Dest), d.Source, d.Error))
	case custody.TypeAnomaly:
		l.event(rec, KindAnomaly, fmt.Sprintf("on %s: %s", orDash(d.Host), orDash(strings.Trim(d.Note+"; "+d.Error, "; "))))
	case custody.TypeSnapshotVanished:
		l.event(rec, KindAnomaly, fmt.Sprintf("our snapshot %q (id %d) of VM %q on %s vanished: someone else removed it (%s)", d.Snapshot, d.SnapID, d.VM, orDash(d.Host), orDash(d.Note+d.Error)))
	case custody.TypeLeftAlone:
		l.event(rec, KindNotice, fmt.Sprintf("left alone on %s (looks like ours, is not provably ours): %s", orDash(d.Host), d.Note))
	}
}

// snapshot finds the created snapshot that d removes.
func (l *loader) snapshot(d custody.Step) *Snapshot {
	for i := len(l.snaps) - 1; i >= 0; i-- {
		s := &l.snaps[i]
		if s.Host == d.Host && s.VMID == d.VMID && s.Name == d.Snapshot && s.ID == d.SnapID && s.Removed.IsZero() {
			return s
		}
	}
	return nil
}

// addSinkEvent takes the sink's records that a court must hear about.
func (l *loader) addSinkEvent(rec custody.Record) error {
	switch rec.Type {
	case custody.TypeMountRefused:
		var d custody.Mount
		if err := rec.Decode(&d); err != nil {
			return err
		}
		l.event(rec, KindRefusal, fmt.Sprintf("mount of %s by %s refused: %s", d.Path, d.Client, d.Reason))
	case custody.TypePolicyRefused:
		var d custody.PolicyRefused
		if err := rec.Decode(&d); err != nil {
			return err
		}
		what := strings.TrimSpace(d.Path + " " + d.Name)
		l.event(rec, KindRefusal, fmt.Sprintf("%s %s by %s refused by the write-once policy: %s", d.Procedure, what, d.Client, d.Reason))
	case custody.TypeWriteAnomaly, custody.TypeWriteError:
		var d custody.WriteAnomaly
		if err := rec.Decode(&d); err != nil {
			return err
		}
		l.event(rec, KindAnomaly, fmt.Sprintf("%s: %s, %d bytes at offset %d", d.Path, d.Kind, d.Length, d.Offset))
	case custody.TypeNoSpace:
		var d custody.NoSpace
		if err := rec.Decode(&d); err != nil {
			return err
		}
		l.event(rec, KindFailure, fmt.Sprintf("%s: write of %d bytes at offset %d refused, evidence disk full (%d bytes free)", d.Path, d.Length, d.Offset, d.FreeBytes))
	case custody.TypeTornTail:
		var d custody.TornTail
		if err := rec.Decode(&d); err != nil {
			return err
		}
		l.event(rec, KindNotice, fmt.Sprintf("custody log: %d bytes of an interrupted write at offset %d were closed off (sha256 %s)", d.Length, d.Offset, d.SHA256))
	case custody.TypeFileResumed:
		var d custody.FileResumed
		if err := rec.Decode(&d); err != nil {
			return err
		}
		l.event(rec, KindNotice, fmt.Sprintf("%s: taken up again with %d bytes already on disk (%s); its hashes were computed from disk", d.Path, d.SizeOnDisk, d.Reason))
	case custody.TypeNote:
		var d custody.Note
		if err := rec.Decode(&d); err != nil {
			return err
		}
		l.note(rec, d.Text)
	case custody.TypeSinkStopped:
		var d custody.SinkStopped
		if err := rec.Decode(&d); err != nil {
			return err
		}
		l.note(rec, "sink stopped: "+d.Reason)
	}
	return nil
}

// addArtifact reads a triage.output record.
func (l *loader) addArtifact(rec custody.Record) error {
	var d custody.TriageOutput
	if err := rec.Decode(&d); err != nil {
		return err
	}
	a := Artifact{Name: d.Name, Command: d.Command, Why: d.Why, Note: d.Note, Output: d.StdoutFile, Time: rec.Time, Line: rec.Line,
		NotRun: !d.Ran, Hashes: map[string]string{}}
	if d.Ran {
		a.ExitStatus = &d.ExitStatus
	}
	if d.StdoutSHA256 != "" {
		a.Hashes["sha256"] = d.StdoutSHA256
	}
	l.artifacts = append(l.artifacts, a)
	return nil
}

func commandStatus(c Command) string {
	switch {
	case c.Error != "" && c.ExitStatus < 0:
		return "did not finish"
	case c.ExitStatus == 0:
		return "ok"
	case c.ExitStatus < 0:
		return "did not finish"
	}
	return fmt.Sprintf("exit %d", c.ExitStatus)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
