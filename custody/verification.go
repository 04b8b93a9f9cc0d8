package custody

import (
	"fmt"
	"strconv"
	"strings"
)

// Severity grades a finding.
type Severity string

// Severities. Only failures make a case fail verification.
const (
	Failure Severity = "failure"
	Notice  Severity = "notice"
)

// PieceRange names consecutive pieces of a file and the bytes they cover
// (End inclusive, as hashdeep and dcfldd print ranges).
type PieceRange struct {
	First int   `json:"first"`
	Last  int   `json:"last"`
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// String renders p as "piece 2 (bytes 8192-12287)".
func (p PieceRange) String() string {
	if p.First == p.Last {
		return fmt.Sprintf("piece %d (bytes %d-%d)", p.First, p.Start, p.End)
	}
	return fmt.Sprintf("pieces %d-%d (bytes %d-%d)", p.First, p.Last, p.Start, p.End)
}

// Finding is one thing verification found, about a log line, an evidence
// file, or both.
type Finding struct {
	Severity Severity `json:"severity"`
	// Line is the 1-based custody log line concerned, 0 if none.
	Line int `json:"line,omitempty"`
	// File is the evidence path concerned (relative, "/"), "" if none.
	File  string      `json:"file,omitempty"`
	Piece *PieceRange `json:"piece,omitempty"`
	What  string      `json:"what"`
}

// String renders f on one line: severity, where (file, piece, log line),
// then what.
func (f Finding) String() string {
	var b strings.Builder
	if f.Severity == Failure {
		b.WriteString("FAIL   ")
	} else {
		b.WriteString("notice ")
	}
	var where []string
	if f.File != "" {
		where = append(where, strconv.Quote(f.File))
	}
	if f.Piece != nil {
		where = append(where, f.Piece.String())
	}
	if f.Line > 0 {
		where = append(where, "log line "+strconv.Itoa(f.Line))
	}
	b.WriteString(strings.Join(where, ", "))
	if len(where) > 0 {
		b.WriteString(": ")
	}
	b.WriteString(f.What)
	return b.String()
}

// AtRest is what a re-hash at rest found for one evidence file.
type AtRest string

// At-rest outcomes in the verification table.
const (
	RestIntact     AtRest = "verified"
	RestMismatch   AtRest = "MISMATCH"   // hashes or size differ from the log
	RestMissing    AtRest = "MISSING"    // finalized in the log, absent on disk
	RestUnlogged   AtRest = "UNLOGGED"   // on disk, no record of it at all
	RestPartial    AtRest = "PARTIAL"    // created on the sink, never finalized
	RestUnreadable AtRest = "UNREADABLE" // could not be read or checked
	RestNotChecked AtRest = "NOT CHECKED"
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
	// OK is true when the case was complete and intact; Verdict says
	// which of PASS, INCOMPLETE and FAIL it was, Counts the file states.
	OK      bool    `json:"ok"`
	Verdict string  `json:"verdict,omitempty"`
	Counts  *Counts `json:"counts,omitempty"`
	// Problems are what made the case incomplete or failed.
	Problems []Problem `json:"problems,omitempty"`
	// Records, HeadSeq and Head describe the log as verification read it.
	Records int    `json:"records"`
	HeadSeq int64  `json:"head_seq"`
	Head    string `json:"head"`
	// Files counts the rows of the verification table, Verified those
	// whose verdict was verified.
	Files    int `json:"files"`
	Verified int `json:"verified"`
	// FailedFiles are the rows whose verdict was not verified.
	FailedFiles []FileCheck `json:"failed_files,omitempty"`
	// Failures are the findings of severity failure, in log-line order.
	Failures []Finding `json:"failures,omitempty"`
	Notices  int       `json:"notices,omitempty"`
	// ToolVersion is the program that verified, UTCOffset the verifying
	// machine's offset from UTC at the time ("+02:00").
	ToolVersion string `json:"tool_version,omitempty"`
	UTCOffset   string `json:"utc_offset,omitempty"`
}

// FileCheck names one evidence file and its verdict.
type FileCheck struct {
	Path    string `json:"path"`
	Verdict AtRest `json:"verdict"`
}
