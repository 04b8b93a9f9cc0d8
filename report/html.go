package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
)

//go:embed report.css
var reportCSS string

//go:embed report.html.tmpl
var reportHTML string

// algorithms are the hash rows shown per file, in order.
var algorithms = []string{"md5", "sha256"}

// funcs are the template helpers shared by the HTML and Markdown writers.
func funcs(f formatter) template.FuncMap {
	return template.FuncMap{
		"join":         strings.Join,
		"when":         f.when,
		"clock":        f.clock,
		"size":         size,
		"human":        humanBytes,
		"hash":         hash,
		"seconds":      seconds,
		"update":       update,
		"sinkMD5":      sinkMD5,
		"verdictClass": verdictClass,
		"algs":         func() []string { return algorithms },
		"inc":          func(i int) int { return i + 1 },
		"lastVerify":   lastVerify,
	}
}

var htmlTmpl = template.Must(template.New("report").Funcs(funcs(formatter{})).Parse(reportHTML))

// WriteHTML writes the report as one self-contained HTML page: the style
// sheet is embedded and nothing (font, script, image) is fetched, so the
// file reads the same offline and prints cleanly to PDF.
func (r *Report) WriteHTML(w io.Writer) error {
	t, err := htmlTmpl.Clone()
	if err != nil {
		return fmt.Errorf("report template: %w", err)
	}
	t.Funcs(funcs(newFormatter(r.Case.UTCOffset)))
	var b bytes.Buffer
	data := struct {
		*Report
		CSS template.CSS
	}{r, template.CSS(reportCSS)}
	if err := t.Execute(&b, data); err != nil {
		return fmt.Errorf("render the HTML report: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write the HTML report: %w", err)
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
