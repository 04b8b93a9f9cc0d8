package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	texttemplate "text/template"
)

//go:embed report.css
var reportCSS string

//go:embed report.html.tmpl
var reportHTML string

//go:embed report.md.tmpl
var reportMarkdown string

// algorithms are the hash rows shown per file, in order.
var algorithms = []string{"md5", "sha256"}

// funcs are the helpers both templates use; f carries the case's UTC
// offset, so they are bound per report.
func funcs(f formatter) map[string]any {
	return map[string]any{
		"join":         strings.Join,
		"when":         f.when,
		"clock":        f.clock,
		"size":         size,
		"hash":         hash,
		"seconds":      seconds,
		"sinkMD5":      sinkMD5,
		"verdictClass": verdictClass,
		"algs":         func() []string { return algorithms },
		"opt":          opt,
	}
}

// mdFuncs are the Markdown template's own: table rows whose cells are
// escaped by construction, free text kept on one line, code spans.
var mdFuncs = map[string]any{
	"head": mdHead,
	"row":  mdRow,
	"text": mdText,
	"code": mdCode,
	"sums": sums,
	"bold": func(s any) string { return "**" + fmt.Sprint(s) + "**" },
}

var (
	htmlTmpl = htmltemplate.Must(htmltemplate.New("report").Funcs(funcs(formatter{})).Parse(reportHTML))
	mdTmpl   = texttemplate.Must(texttemplate.New("report").Funcs(funcs(formatter{})).Funcs(mdFuncs).Parse(reportMarkdown))
)

// WriteHTML writes the report as one self-contained HTML page: the style
// sheet is embedded and nothing (font, script, image) is fetched, so the
// file reads the same offline and prints cleanly to PDF.
func (r *Report) WriteHTML(w io.Writer) error {
	t, err := htmlTmpl.Clone()
	if err != nil {
		return fmt.Errorf("report template: %w", err)
	}
	t.Funcs(funcs(newFormatter(r.Case.UTCOffset)))
	data := struct {
		*view
		CSS htmltemplate.CSS
	}{newView(r), htmltemplate.CSS(reportCSS)}
	return render(w, "HTML", t.Execute, data)
}

// WriteMarkdown writes the report as Markdown (GitHub tables), for case
// management systems and plain-text review. It renders the same view as
// the HTML, so it states what the HTML states, in the same order.
func (r *Report) WriteMarkdown(w io.Writer) error {
	t, err := mdTmpl.Clone()
	if err != nil {
		return fmt.Errorf("report template: %w", err)
	}
	t.Funcs(funcs(newFormatter(r.Case.UTCOffset)))
	return render(w, "Markdown", t.Execute, newView(r))
}

// render executes into a buffer first, so that a template error leaves w
// without half a report.
func render(w io.Writer, format string, execute func(io.Writer, any) error, data any) error {
	var b bytes.Buffer
	if err := execute(&b, data); err != nil {
		return fmt.Errorf("render the %s report: %w", format, err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write the %s report: %w", format, err)
	}
	return nil
}

// WriteJSON writes the report model, indented, for other programs.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write the JSON report: %w", err)
	}
	return nil
}

// opt is before+s, or "" when s is empty: "{{opt " on " .Workstation}}".
func opt(before, s string) string {
	if s == "" {
		return ""
	}
	return before + s
}

// mdHead is a table's header row and its delimiter row.
func mdHead(cells ...string) string {
	return mdRow(toAny(cells)...) + "\n|" + strings.Repeat(" --- |", len(cells))
}

// mdRow is one table row; every cell is escaped (mdCell), so that no
// value can add a cell or end the row.
func mdRow(cells ...any) string {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = mdCell(fmt.Sprint(c))
	}
	return "| " + strings.Join(s, " | ") + " |"
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// mdCell makes s safe inside a table cell: one line, pipes escaped.
func mdCell(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "|", `\|`).Replace(s)
	if s == "" {
		return " "
	}
	return s
}

// mdText keeps free text on one line.
func mdText(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// mdCode is s as a code span that shows it verbatim: its fence is one
// backtick longer than any run of backticks in s (a command quoting a
// VM name may hold some), padded where s starts or ends with one.
func mdCode(s string) string {
	s = mdText(s)
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}
