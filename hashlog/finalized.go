package hashlog

import (
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/digest"
)

// finalEntry is the last file.finalized record for one path.
type finalEntry struct {
	custody.FileFinalized
	rec custody.Record
	// piecesOK is false when the record's piece hashes are inconsistent
	// with its size, so only the whole-file hashes can be compared.
	piecesOK bool
	// folder names where Path is relative to, in messages ("" for the
	// evidence folder).
	folder string
}

func (fe *finalEntry) where() string {
	if fe.folder == "" {
		return "the evidence folder"
	}
	return fe.folder
}

// hexLen is the digest length in hex of the algorithms digest computes.
var hexLen = map[string]int{"md5": 32, "sha1": 40, "sha256": 64}

// lastFinalized picks the last file.finalized record of every path, in
// path order, and the line of the last file.created record of every path.
// Records that cannot be used are reported as failures.
func lastFinalized(records []custody.Record) (files []*finalEntry, created map[string]int, findings []custody.Finding) {
	byPath := map[string]*finalEntry{}
	created = map[string]int{}
	for _, r := range records {
		switch r.Type {
		case custody.TypeFileCreated:
			var fc custody.FileCreated
			if r.Decode(&fc) == nil {
				created[fc.Path] = r.Line
			}
		case custody.TypeFileFinalized:
			var ff custody.FileFinalized
			if err := r.Decode(&ff); err != nil {
				findings = append(findings, custody.Finding{Severity: custody.Failure, Line: r.Line, What: err.Error()})
				continue
			}
			if err := CheckEvidencePath(ff.Path); err != nil {
				findings = append(findings, custody.Finding{Severity: custody.Failure, Line: r.Line, What: "file.finalized names an unusable path, not checked: " + err.Error()})
				continue
			}
			piecesOK, err := checkFinalized(ff)
			if err != nil {
				findings = append(findings, custody.Finding{Severity: custody.Failure, Line: r.Line, File: ff.Path, What: "file.finalized record is inconsistent: " + err.Error()})
			}
			if old, ok := byPath[ff.Path]; ok && (old.Size != ff.Size || !maps.Equal(old.Hashes, ff.Hashes)) {
				findings = append(findings, custody.Finding{Severity: custody.Notice, Line: r.Line, File: ff.Path,
					What: fmt.Sprintf("finalized again with different size or hashes (before: line %d); the last record is the one verified", old.rec.Line)})
			}
			byPath[ff.Path] = &finalEntry{FileFinalized: ff, rec: r, piecesOK: piecesOK}
		case custody.TypeFileSuperseded:
			findings = append(findings, moveFinalized(r, byPath, created)...)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(byPath)) {
		files = append(files, byPath[p])
	}
	return files, created, findings
}

// moveFinalized applies a file.superseded record: the bytes finalized as
// From are now at To, and From is free for the next attempt. A move of
// bytes other than those finalized is a failure.
func moveFinalized(r custody.Record, byPath map[string]*finalEntry, created map[string]int) []custody.Finding {
	var m custody.FileSuperseded
	if err := r.Decode(&m); err != nil {
		return []custody.Finding{{Severity: custody.Failure, Line: r.Line, What: err.Error()}}
	}
	for _, p := range []string{m.From, m.To} {
		if err := CheckEvidencePath(p); err != nil {
			return []custody.Finding{{Severity: custody.Failure, Line: r.Line, What: "file.superseded names an unusable path, not followed: " + err.Error()}}
		}
	}
	fe, ok := byPath[m.From]
	if !ok {
		return []custody.Finding{{Severity: custody.Failure, Line: r.Line, File: m.To,
			What: fmt.Sprintf("moved from %s, which no file.finalized record vouches for", m.From)}}
	}
	var out []custody.Finding
	if fe.Size != m.Size || !maps.Equal(fe.Hashes, m.Hashes) {
		out = append(out, custody.Finding{Severity: custody.Failure, Line: r.Line, File: m.To,
			What: fmt.Sprintf("moved from %s with other size or hashes than it was finalized with (line %d)", m.From, fe.rec.Line)})
	}
	delete(byPath, m.From)
	moved := *fe
	moved.Path = m.To
	byPath[m.To] = &moved
	if l, ok := created[m.From]; ok {
		created[m.To] = l
		delete(created, m.From)
	}
	return out
}

// checkFinalized checks a record's internal consistency. It reports
// whether the piece hashes can be used; an error means the whole-file
// hashes or the size cannot be trusted either, or the pieces are unusable.
func checkFinalized(f custody.FileFinalized) (piecesOK bool, err error) {
	if f.Size < 0 {
		return false, fmt.Errorf("negative size %d", f.Size)
	}
	if len(f.Hashes) == 0 {
		return false, fmt.Errorf("no hashes")
	}
	for alg, h := range f.Hashes {
		n, known := hexLen[alg]
		if _, herr := hex.DecodeString(h); herr != nil || strings.ToLower(h) != h || (known && len(h) != n) {
			return false, fmt.Errorf("%s value %q is not a lower-case hex digest", alg, h)
		}
	}
	if f.PieceSize == 0 && len(f.Pieces) == 0 {
		return false, nil
	}
	if f.PieceSize <= 0 {
		return false, fmt.Errorf("%d piece hashes but piece size %d", len(f.Pieces), f.PieceSize)
	}
	if _, ok := hexLen[f.PieceAlgorithm]; !ok {
		return false, fmt.Errorf("piece algorithm %q is not one of %s", f.PieceAlgorithm, strings.Join(digest.Supported(), ", "))
	}
	want := (f.Size + f.PieceSize - 1) / f.PieceSize
	if int64(len(f.Pieces)) != want {
		return false, fmt.Errorf("%d piece hashes for %d bytes in pieces of %d (want %d)", len(f.Pieces), f.Size, f.PieceSize, want)
	}
	for i, h := range f.Pieces {
		if _, herr := hex.DecodeString(h); herr != nil || len(h) != hexLen[f.PieceAlgorithm] || strings.ToLower(h) != h {
			return false, fmt.Errorf("piece %d value %q is not a lower-case %s digest", i, h, f.PieceAlgorithm)
		}
	}
	return true, nil
}
