package hashlog

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// DFXML namespaces and the schema version the output follows.
const (
	dfxmlNS      = "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"
	dublinCoreNS = "http://purl.org/dc/elements/1.1/"
	dfxmlVersion = "2.0.0-beta.0"
)

// writeDFXML renders one <fileobject> per evidence file, following the
// template validated against the DFXML schema (forensics.md §2.4): piece
// hashes sit in <byte_runs><byte_run><hashdigest/>, which hashdeep's own
// piecewise output gets wrong. <metadata> holds only dc:type because the
// 1.x schema allows a single Dublin Core element there; the case identity
// goes into a comment instead, which every schema accepts. The empty
// <source/> keeps 1.x validators (where it is required) happy.
func (m *Manifest) writeDFXML(b *bytes.Buffer) error {
	for _, f := range m.Files {
		if !xmlSafe(f.Path) {
			return &NameError{Path: f.Path, Why: "contains characters XML 1.0 cannot carry"}
		}
	}
	b.WriteString("<?xml version='1.0' encoding='UTF-8'?>\n")
	fmt.Fprintf(b, "<dfxml xmlns='%s'\n       xmlns:dc='%s'\n       version='%s'>\n", dfxmlNS, dublinCoreNS, dfxmlVersion)
	fmt.Fprintf(b, "  <!-- esxsink custody log export: case %s, examiner %s, log head seq %d sha256 %s -->\n",
		xmlComment(m.CaseID), xmlComment(m.Examiner), m.HeadSeq, m.HeadHash)
	b.WriteString("  <metadata>\n    <dc:type>Hash List</dc:type>\n  </metadata>\n")
	b.WriteString("  <creator version='1.0'>\n    <program>esxsink</program>\n")
	if m.ToolVersion != "" {
		element(b, "    ", "version", m.ToolVersion)
	}
	if m.SinkHost != "" || !m.Opened.IsZero() {
		b.WriteString("    <execution_environment>\n")
		if m.SinkHost != "" {
			element(b, "      ", "host", m.SinkHost)
		}
		if !m.Opened.IsZero() {
			element(b, "      ", "start_time", m.Opened.UTC().Format(TimeFormat))
		}
		b.WriteString("    </execution_environment>\n")
	}
	b.WriteString("  </creator>\n  <source/>\n")
	for _, f := range m.Files {
		b.WriteString("  <fileobject>\n")
		element(b, "    ", "filename", f.Path)
		element(b, "    ", "filesize", strconv.FormatInt(f.Size, 10))
		if f.PieceSize > 0 && len(f.Pieces) > 0 {
			b.WriteString("    <byte_runs>\n")
			for i, h := range f.Pieces {
				off := int64(i) * f.PieceSize
				n := min(f.PieceSize, f.Size-off)
				fmt.Fprintf(b, "      <byte_run file_offset='%d' len='%d'>\n", off, n)
				fmt.Fprintf(b, "        <hashdigest type='%s'>%s</hashdigest>\n", f.PieceAlgorithm, h)
				b.WriteString("      </byte_run>\n")
			}
			b.WriteString("    </byte_runs>\n")
		}
		for _, alg := range hashdeepAlgs { // the schema's hash types among ours
			if h := f.Hashes[alg]; h != "" {
				fmt.Fprintf(b, "    <hashdigest type='%s'>%s</hashdigest>\n", alg, h)
			}
		}
		b.WriteString("  </fileobject>\n")
	}
	b.WriteString("</dfxml>\n")
	return nil
}

// element writes <name>escaped text</name> on its own line.
func element(b *bytes.Buffer, indent, name, text string) {
	fmt.Fprintf(b, "%s<%s>", indent, name)
	xml.EscapeText(b, []byte(text))
	fmt.Fprintf(b, "</%s>\n", name)
}

// xmlSafe reports whether s holds only characters XML 1.0 allows.
func xmlSafe(s string) bool {
	for _, r := range s {
		ok := r == '\t' || r == '\n' || r == '\r' ||
			r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
		if !ok {
			return false
		}
	}
	return true
}

// xmlComment makes text safe inside <!-- -->: no "--", no markup-breaking
// or control characters.
func xmlComment(s string) string {
	s = commentSafe(s)
	s = strings.Map(func(r rune) rune {
		if !xmlSafe(string(r)) {
			return ' '
		}
		return r
	}, s)
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "- -")
	}
	return s
}
