package esxi

import (
	"encoding/csv"
	"errors"
	"io"
	"strings"
)

// Record is one structure of esxcli output: field name, as printed, to
// value. The formatters name fields differently ("Mount Point" in the
// default format, "MountPoint" in csv); [Record.Get] hides that.
type Record map[string]string

// TitleKey holds the title line of a record in esxcli's default list
// format: the line above the indented fields ("server08R2" above
// "   World ID: ..."), which csv prints as an ordinary field instead.
const TitleKey = "(title)"

// Get returns the value of field, comparing names without case, spaces or
// punctuation, so "Mount Point", "MountPoint" and "mount-point" are one
// field. Missing fields are "".
func (r Record) Get(field string) string {
	v, _ := r.Lookup(field)
	return v
}

// Lookup is [Record.Get] that also reports whether the field is there.
func (r Record) Lookup(field string) (string, bool) {
	if v, ok := r[field]; ok {
		return v, true
	}
	want := normField(field)
	for k, v := range r {
		if normField(k) == want {
			return v, true
		}
	}
	return "", false
}

func normField(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			b.WriteByte(c)
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		}
	}
	return b.String()
}

// ParseCSV parses esxcli --formatter=csv output: a header row of field
// names, then one row per structure. Fields may be quoted and contain
// commas, quotes and newlines. esxcli ends every row with a comma; the empty
// last column that makes is dropped. A row with a different number of
// fields than the header is an error naming its line. Empty output is no
// records.
func ParseCSV(out string) ([]Record, error) {
	const src = "esxcli csv"
	r := csv.NewReader(strings.NewReader(out))
	r.FieldsPerRecord = -1 // checked below, to report the line our way
	header, err := r.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, csvErr(err)
	}
	width := len(header) // every row has as many fields, trailing empty one included
	for len(header) > 0 && header[len(header)-1] == "" {
		header = header[:len(header)-1]
	}
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if normField(h) == "" {
			return nil, parseErr(src, 1, "header column %d has no name", i+1)
		}
		if seen[normField(h)] {
			return nil, parseErr(src, 1, "header column %q repeated", clip(h))
		}
		seen[normField(h)] = true
		header[i] = h
	}
	var recs []Record
	for {
		row, err := r.Read()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return nil, csvErr(err)
		}
		line, _ := r.FieldPos(0)
		if len(row) != width {
			return nil, parseErr(src, line, "%d fields, the header has %d", len(row), width)
		}
		for _, v := range row[len(header):] {
			if v != "" {
				return nil, parseErr(src, line, "value %q in the unnamed last column", clip(v))
			}
		}
		rec := make(Record, len(header))
		for i, h := range header {
			rec[h] = row[i]
		}
		recs = append(recs, rec)
	}
}

func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return parseErr("esxcli csv", pe.Line, "%v", pe.Err)
	}
	return parseErr("esxcli csv", 0, "%v", err)
}
