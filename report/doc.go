// Package report writes the acquisition report of a case: the document an
// examiner attaches to the case file and a court reads. It is built from
// the case folder alone — the custody log and the files the tools kept
// beside it — and never re-hashes evidence: the hashes it states are the
// ones recorded when the data arrived, when it was re-read at rest, and
// by the last `esxsink verify`, whose result is a record in the log.
//
// Load builds the model (Report); WriteHTML writes one self-contained
// page (embedded CSS, no scripts, fonts or images, with a print
// stylesheet so it prints to PDF), WriteMarkdown a plain-text version and
// WriteJSON the model itself for other programs. HTML and Markdown render
// one view (view.go) through report.html.tmpl and report.md.tmpl, so the
// wording of a value is decided once; testdata/report.golden.* hold both
// for a fixed case.
package report
