package hashlog

import (
	"fmt"
	"time"

	"github.com/esxsink/esxsink/custody"
)

// Verified summarises r as the data of a case.verified record.
func (r *Verification) Verified(toolVersion string) custody.CaseVerified {
	v := custody.CaseVerified{
		OK: r.OK(), Records: r.Records, HeadSeq: r.HeadSeq, Head: r.HeadHash,
		Files: len(r.Files), ToolVersion: toolVersion, UTCOffset: time.Now().Format("-07:00"),
		Verdict: r.Verdict().String(),
	}
	if a := r.Assessment; a != nil {
		counts := a.Counts
		v.Counts, v.Problems = &counts, a.Problems
	}
	for _, f := range r.Files {
		if f.Verdict == custody.RestIntact {
			v.Verified++
			continue
		}
		v.FailedFiles = append(v.FailedFiles, custody.FileCheck{Path: f.Path, Verdict: f.Verdict})
	}
	for _, f := range r.Findings {
		if f.Severity == custody.Failure {
			v.Failures = append(v.Failures, f)
		} else {
			v.Notices++
		}
	}
	return v
}

// RecordVerification appends r's result to the custody log of the case in
// caseDir as a case.verified record and returns that record. It fails,
// changing nothing, when another process holds the log open (a running
// sink) or the log cannot be written (a read-only copy of the case).
func RecordVerification(caseDir string, r *Verification, toolVersion string) (custody.Record, error) {
	if err := checkCase(caseDir); err != nil {
		return custody.Record{}, err
	}
	l, err := Open(caseDir)
	if err != nil {
		return custody.Record{}, fmt.Errorf("record the verification result: %w", err)
	}
	rec, err := l.Append(custody.TypeCaseVerified, r.Verified(toolVersion))
	if cerr := l.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return custody.Record{}, fmt.Errorf("record the verification result: %w", err)
	}
	return rec, nil
}
