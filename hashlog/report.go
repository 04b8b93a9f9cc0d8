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
	Files    []FileCheck      `json:"files"`
}

// OK reports whether verification found no failure.
func (r *Verification) OK() bool { return r.Failures() == 0 }

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
