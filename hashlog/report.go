package hashlog

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
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

func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int { return cmp.Compare(a.Line, b.Line) })
}

// Verdict is the outcome for one evidence file.
type Verdict string

// Verdicts in the verification table.
const (
	Verified   Verdict = "verified"
	Mismatch   Verdict = "MISMATCH"   // hashes or size differ from the log
	Missing    Verdict = "MISSING"    // finalized in the log, absent on disk
	Unlogged   Verdict = "UNLOGGED"   // on disk, no file.finalized record
	Unreadable Verdict = "UNREADABLE" // could not be read or checked
	NotChecked Verdict = "NOT CHECKED"
)

// FileResult is one row of the verification table.
type FileResult struct {
	Path string `json:"path"`
	// Line is the log line of the file.finalized record used, 0 if none.
	Line int `json:"line,omitempty"`
	// Size and Hashes are what the log recorded (for unlogged files: the
	// size on disk and no hashes).
	Size    int64             `json:"size"`
	Hashes  map[string]string `json:"hashes,omitempty"`
	Verdict Verdict           `json:"verdict"`
}

// Report is the outcome of VerifyCase.
type Report struct {
	CaseDir string `json:"case_dir"`
	// Records counts readable records; HeadSeq and HeadHash are the head
	// of the log, to be compared with the head written down at the time
	// (the only defence against an edited or removed last line).
	Records  int          `json:"records"`
	HeadSeq  int64        `json:"head_seq"`
	HeadHash string       `json:"head_hash"`
	Findings []Finding    `json:"findings"`
	Files    []FileResult `json:"files"`
}

// OK reports whether verification found no failure.
func (r *Report) OK() bool { return r.Failures() == 0 }

// Failures counts findings of severity Failure.
func (r *Report) Failures() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == Failure {
			n++
		}
	}
	return n
}

// String renders the report as WriteTo does.
func (r *Report) String() string {
	var b bytes.Buffer
	r.WriteTo(&b)
	return b.String()
}

// WriteTo writes a readable report: the log head, every failure, every
// notice, the verification table and a one-line result.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "case:        %s\n", r.CaseDir)
	fmt.Fprintf(&b, "custody log: %d records, head seq %d sha256 %s\n", r.Records, r.HeadSeq, r.HeadHash)
	fmt.Fprintf(&b, "             (compare the head with the one in the examiner's notes: an edited\n")
	fmt.Fprintf(&b, "             or removed last line is only detectable that way)\n")
	for _, sev := range []Severity{Failure, Notice} {
		var list []Finding
		for _, f := range r.Findings {
			if f.Severity == sev {
				list = append(list, f)
			}
		}
		if len(list) == 0 {
			continue
		}
		title := "failures"
		if sev == Notice {
			title = "notices"
		}
		fmt.Fprintf(&b, "\n%s (%d):\n", title, len(list))
		for _, f := range list {
			fmt.Fprintf(&b, "  %s\n", f)
		}
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tSIZE\tMD5\tSHA256\tVERDICT")
	for _, f := range r.Files {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", quoteIfNeeded(f.Path), f.Size, orDash(f.Hashes["md5"]), orDash(f.Hashes["sha256"]), f.Verdict)
	}
	tw.Flush()
	if r.OK() {
		fmt.Fprintf(&b, "\nRESULT: PASS (%d files verified, %d notices)\n", len(r.Files), len(r.Findings))
	} else {
		fmt.Fprintf(&b, "\nRESULT: FAIL (%d failures)\n", r.Failures())
	}
	n, err := w.Write(b.Bytes())
	return int64(n), err
}

// quoteIfNeeded leaves plain names readable and makes odd ones (control
// characters, invalid UTF-8) unambiguous.
func quoteIfNeeded(s string) string {
	if q := strconv.Quote(s); q[1:len(q)-1] != s {
		return q
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
