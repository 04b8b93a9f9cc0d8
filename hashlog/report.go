package hashlog

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/esxsink/esxsink/custody"

	"text/tabwriter"
)

func sortFindings(fs []custody.Finding) {
	slices.SortStableFunc(fs, func(a, b custody.Finding) int { return cmp.Compare(a.Line, b.Line) })
}

// FileCheck is one row of the verification table.
type FileCheck struct {
	Path string `json:"path"`
	// Line is the log line of the file.finalized record used, 0 if none.
	Line int `json:"line,omitempty"`
	// Size and Hashes are what the log recorded (for unlogged files: the
	// size on disk and no hashes).
	Size    int64             `json:"size"`
	Hashes  map[string]string `json:"hashes,omitempty"`
	Verdict custody.AtRest    `json:"verdict"`
}

// Verification is the outcome of VerifyCase.
type Verification struct {
	CaseDir string `json:"case_dir"`
	// Records counts readable records; HeadSeq and HeadHash are the head
	// of the log, to be compared with the head written down at the time
	// (the only defence against an edited or removed last line).
	Records  int               `json:"records"`
	HeadSeq  int64             `json:"head_seq"`
	HeadHash string            `json:"head_hash"`
	Findings []custody.Finding `json:"findings"`
	Files    []FileCheck       `json:"files"`
	// Assessment is the case's verdict: the records judged with the
	// at-rest results of this verification (custody.Assess).
	Assessment *custody.Assessment `json:"assessment"`
}

// Intact reports whether nothing at rest or in the log failed: every
// finalized file re-hashed as recorded and the chain holds.
func (r *Verification) Intact() bool { return r.Failures() == 0 }

// Verdict is the case's verdict: complete, incomplete or an integrity
// failure (esxsink verify exits 0, 3 or 1).
func (r *Verification) Verdict() custody.CaseVerdict {
	if r.Assessment == nil {
		if r.Intact() {
			return custody.Incomplete
		}
		return custody.IntegrityFailure
	}
	v := r.Assessment.Verdict()
	if v == custody.Complete && !r.Intact() {
		return custody.IntegrityFailure
	}
	return v
}

// OK reports whether the case is complete and intact.
func (r *Verification) OK() bool { return r.Verdict() == custody.Complete }

// Failures counts findings of severity Failure.
func (r *Verification) Failures() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == custody.Failure {
			n++
		}
	}
	return n
}

// String renders the report as WriteTo does.
func (r *Verification) String() string {
	var b bytes.Buffer
	r.WriteTo(&b)
	return b.String()
}

// WriteTo writes a readable report: the log head, every failure, every
// notice, the verification table and a one-line result.
func (r *Verification) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "case:        %s\n", r.CaseDir)
	fmt.Fprintf(&b, "custody log: %d records, head seq %d sha256 %s\n", r.Records, r.HeadSeq, r.HeadHash)
	fmt.Fprintf(&b, "             (compare the head with the one in the examiner's notes: an edited\n")
	fmt.Fprintf(&b, "             or removed last line is only detectable that way)\n")
	for _, sev := range []custody.Severity{custody.Failure, custody.Notice} {
		var list []custody.Finding
		for _, f := range r.Findings {
			if f.Severity == sev {
				list = append(list, f)
			}
		}
		if len(list) == 0 {
			continue
		}
		title := "failures"
		if sev == custody.Notice {
			title = "notices"
		}
		fmt.Fprintf(&b, "\n%s (%d):\n", title, len(list))
		for _, f := range list {
			fmt.Fprintf(&b, "  %s\n", f)
		}
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	// This table is the check at rest only: a superseded attempt or a
	// partial copy can be intact at rest, so its column never says
	// "verified"; the file's verdict is in the states below.
	fmt.Fprintln(tw, "FILE\tSIZE\tMD5\tSHA256\tAT REST")
	for _, f := range r.Files {
		rest := string(f.Verdict)
		if f.Verdict == custody.RestIntact {
			rest = "intact"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", QuoteIfNeeded(f.Path), f.Size, orDash(f.Hashes["md5"]), orDash(f.Hashes["sha256"]), rest)
	}
	tw.Flush()
	if a := r.Assessment; a != nil {
		writeAssessment(&b, a)
	}
	fmt.Fprintf(&b, "\nRESULT: %s", r.Verdict())
	if a := r.Assessment; a != nil {
		fmt.Fprintf(&b, " (%s)\n", a.Counts)
	} else {
		fmt.Fprintf(&b, " (%d failures)\n", r.Failures())
	}
	switch r.Verdict() {
	case custody.Incomplete:
		b.WriteString("        what is there is intact, but the case is incomplete: see the problems above\n")
	case custody.IntegrityFailure:
		b.WriteString("        evidence or its custody log changed or disagrees: see the failures above\n")
	}
	n, err := w.Write(b.Bytes())
	return int64(n), err
}

// QuoteIfNeeded leaves plain names readable and makes odd ones (control
// characters, invalid UTF-8) unambiguous, wherever evidence names are
// shown (verify's tables, collect's closing statement).
func QuoteIfNeeded(s string) string {
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

// writeAssessment lists every file's state that is not verified, the
// anomalies and the problems that decide the case's verdict.
func writeAssessment(b *bytes.Buffer, a *custody.Assessment) {
	var odd []custody.FileState
	for _, f := range a.Files {
		if f.Verdict != custody.Verified {
			odd = append(odd, f)
		}
	}
	if len(odd) > 0 {
		fmt.Fprintf(b, "\nstates other than verified (%d):\n", len(odd))
		tw := tabwriter.NewWriter(b, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "  STATE\tFILE\tSOURCE\tSIZE\tWHY")
		for _, f := range odd {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", f.Verdict, QuoteIfNeeded(orDash(f.Path)), QuoteIfNeeded(orDash(f.Source)), f.Size, QuoteIfNeeded(orDash(f.Reason+flagHint(f.Flag))))
		}
		tw.Flush()
	}
	if len(a.Anomalies) > 0 {
		fmt.Fprintf(b, "\nanomalies (%d):\n", len(a.Anomalies))
		for _, p := range a.Anomalies {
			fmt.Fprintf(b, "  %s\n", problemLine(p))
		}
	}
	if len(a.Problems) > 0 {
		fmt.Fprintf(b, "\nproblems (%d):\n", len(a.Problems))
		for _, p := range a.Problems {
			fmt.Fprintf(b, "  %s\n", problemLine(p))
		}
	}
}

func flagHint(flag string) string {
	if flag == "" {
		return ""
	}
	return " (collect it with " + flag + ")"
}

func problemLine(p custody.Problem) string {
	s := QuoteIfNeeded(p.What)
	if p.Integrity {
		s = "FAIL  " + s
	} else {
		s = "      " + s
	}
	if p.Line > 0 {
		s += fmt.Sprintf(" (log line %d)", p.Line)
	}
	return s
}
