package hashlog

import (
	"bytes"
	"fmt"
	"strings"
)

// hashdeepAlgs are the columns hashdeep accepts that digest computes, in
// the order hashdeep itself writes them.
var hashdeepAlgs = []string{"md5", "sha1", "sha256"}

// writeHashdeep renders a hashdeep 1.0 known-file. Names are written as
// "./" + the path relative to the evidence folder, because that is what
// hashdeep -l -r . produces and its audit compares names literally: with
// any other spelling every file shows up as "Moved". The audit is
//
//	cd CASE/evidence && hashdeep -l -r -a -k KNOWN-FILE .
//
// The columns are the algorithms every file has; hashdeep needs the same
// columns on every line.
func (m *Manifest) writeHashdeep(b *bytes.Buffer) error {
	var algs []string
	for _, alg := range hashdeepAlgs {
		all := true
		for _, f := range m.Files {
			if f.Hashes[alg] == "" {
				all = false
				break
			}
		}
		if all {
			algs = append(algs, alg)
		}
	}
	if len(algs) == 0 {
		return fmt.Errorf("no algorithm among %s was recorded for every file", strings.Join(hashdeepAlgs, ", "))
	}
	for _, f := range m.Files {
		// hashdeep reads one record per line and has no escape syntax.
		if strings.ContainsAny(f.Path, "\n\r") {
			return &NameError{Path: f.Path, Why: "contains a line break, which a hashdeep known-file cannot represent; use the md5sums/sha256sums export for it"}
		}
	}
	b.WriteString("%%%% HASHDEEP-1.0\n")
	fmt.Fprintf(b, "%%%%%%%% size,%s,filename\n", strings.Join(algs, ","))
	fmt.Fprintf(b, "## esxsink custody log export: case %s, log head seq %d sha256 %s\n", commentSafe(m.CaseID), m.HeadSeq, m.HeadHash)
	b.WriteString("## audit from the evidence folder: hashdeep -l -r -a -k THIS-FILE .\n")
	b.WriteString("## \n")
	for _, f := range m.Files {
		fmt.Fprintf(b, "%d", f.Size)
		for _, alg := range algs {
			b.WriteString(",")
			b.WriteString(f.Hashes[alg])
		}
		b.WriteString(",./")
		b.WriteString(f.Path)
		b.WriteString("\n")
	}
	return nil
}
