package hashlog

import (
	"fmt"
	"time"
)

// CaseVerified is the data of a case.verified record: what one run of
// verification checked and found. It is appended after the check, so
// the head it names is the one before the record itself; a report built
// later from the case folder alone can state "verify passed at T" or
// name the files that failed, without re-hashing anything.
//
// Verification treats case.verified like any other record: it is a
// member of the chain, and an earlier failing result does not make a
// later verification fail (the evidence is re-hashed every time).
type CaseVerified struct {
	OK bool `json:"ok"`
	// Records, HeadSeq and Head describe the log as verification read it.
	Records int    `json:"records"`
	HeadSeq int64  `json:"head_seq"`
	Head    string `json:"head"`
	// Files counts the rows of the verification table, Verified those
	// whose verdict was verified.
	Files    int `json:"files"`
	Verified int `json:"verified"`
	// FailedFiles are the rows whose verdict was not verified.
	FailedFiles []FileVerdict `json:"failed_files,omitempty"`
	// Failures are the findings of severity failure, in log-line order.
	Failures []Finding `json:"failures,omitempty"`
	Notices  int       `json:"notices,omitempty"`
	// ToolVersion is the program that verified, UTCOffset the verifying
	// machine's offset from UTC at the time ("+02:00").
	ToolVersion string `json:"tool_version,omitempty"`
	UTCOffset   string `json:"utc_offset,omitempty"`
}

// FileVerdict names one evidence file and its verdict.
type FileVerdict struct {
	Path    string  `json:"path"`
	Verdict Verdict `json:"verdict"`
}

// Verified summarises r as the data of a case.verified record.
func (r *Report) Verified(toolVersion string) CaseVerified {
	v := CaseVerified{
		OK: r.OK(), Records: r.Records, HeadSeq: r.HeadSeq, Head: r.HeadHash,
		Files: len(r.Files), ToolVersion: toolVersion, UTCOffset: time.Now().Format("-07:00"),
	}
	for _, f := range r.Files {
		if f.Verdict == Verified {
			v.Verified++
			continue
		}
		v.FailedFiles = append(v.FailedFiles, FileVerdict{Path: f.Path, Verdict: f.Verdict})
	}
	for _, f := range r.Findings {
		if f.Severity == Failure {
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
func RecordVerification(caseDir string, r *Report, toolVersion string) (Record, error) {
	if err := checkCase(caseDir); err != nil {
		return Record{}, err
	}
	l, err := Open(caseDir)
	if err != nil {
		return Record{}, fmt.Errorf("record the verification result: %w", err)
	}
	rec, err := l.Append(TypeCaseVerified, r.Verified(toolVersion))
	if cerr := l.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return Record{}, fmt.Errorf("record the verification result: %w", err)
	}
	return rec, nil
}
