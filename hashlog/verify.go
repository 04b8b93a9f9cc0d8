package hashlog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/digest"
)

// legacyScratch is the scratch rule of cases whose sink.started records
// do not state one (written before the rule was recorded): ESXi's lock
// files, the only client then.
var legacyScratch = []string{".lck-"}

// scratchPrefixes are the names the sinks of this case treated as the
// client's own bookkeeping files, as their sink.started records say.
func scratchPrefixes(recs []custody.Record) []string {
	var out []string
	stated := false
	for _, r := range recs {
		if r.Type != custody.TypeSinkStarted {
			continue
		}
		var d struct {
			Config struct {
				Scratch *[]string `json:"scratch_prefixes"`
			} `json:"config"`
		}
		if r.Decode(&d) != nil || d.Config.Scratch == nil {
			continue
		}
		stated = true
		for _, p := range *d.Config.Scratch {
			if p != "" && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	if !stated {
		return legacyScratch
	}
	return out
}

func isScratch(name string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// VerifyCase checks the case in caseDir: it re-walks the custody log's hash
// chain and re-hashes, at rest, every evidence file named by the last
// file.finalized record for its path, with that record's algorithms and
// piece size. It also reports finalized files missing on disk and files
// on disk that no file.finalized record covers (the client's scratch files
// aside, as the case's sink.started records name them).
//
// It returns ErrNotCase (wrapped) when caseDir holds no custody log. When
// ctx is cancelled it stops re-hashing and returns the partial report,
// which is not OK, together with an error wrapping ctx.Err(). Any other
// error is an I/O failure on the log itself.
func VerifyCase(ctx context.Context, caseDir string) (*Verification, error) {
	if err := checkCase(caseDir); err != nil {
		return nil, err
	}
	c, err := readLogFile(LogPath(caseDir))
	if err != nil {
		return nil, err
	}
	rep := &Verification{
		CaseDir:  caseDir,
		Records:  len(c.records),
		HeadSeq:  c.headSeq,
		HeadHash: c.headHash,
		Findings: c.findings,
	}
	files, created, bad := lastFinalized(c.records)
	rep.Findings = append(rep.Findings, bad...)

	evDir := EvidenceDir(caseDir)
	root, err := os.OpenRoot(evDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open evidence folder %s: %w", evDir, err)
	}
	if root != nil {
		defer root.Close()
	}
	for _, fe := range files {
		if ctx.Err() != nil {
			rep.Files = append(rep.Files, FileCheck{Path: fe.Path, Line: fe.rec.Line, Size: fe.Size, Hashes: fe.Hashes, Verdict: custody.RestNotChecked})
			continue
		}
		res, found := verifyFile(ctx, root, fe)
		rep.Files = append(rep.Files, res)
		rep.Findings = append(rep.Findings, found...)
	}
	if err := ctx.Err(); err != nil {
		n := 0
		for _, f := range rep.Files {
			if f.Verdict == custody.RestNotChecked {
				n++
			}
		}
		rep.Findings = append(rep.Findings, custody.Finding{Severity: custody.Failure,
			What: fmt.Sprintf("verification cancelled: %d file(s) not checked, and the evidence folder was not searched for unlogged files", n)})
		rep.Assessment = custody.Assess(c.records, rep.checked())
		return rep, fmt.Errorf("verify case %s: %w", caseDir, err)
	}
	if root != nil {
		logged := map[string]bool{}
		for _, fe := range files {
			logged[fe.Path] = true
		}
		res, found := unloggedFiles(evDir, logged, created, scratchPrefixes(c.records), custody.TypeFileFinalized)
		rep.Files = append(rep.Files, res...)
		rep.Findings = append(rep.Findings, found...)
	}
	kept, found, err := verifyKept(ctx, caseDir, c.records)
	if err != nil {
		return nil, err
	}
	rep.Files = append(rep.Files, kept...)
	rep.Findings = append(rep.Findings, found...)
	slices.SortStableFunc(rep.Files, func(a, b FileCheck) int { return strings.Compare(a.Path, b.Path) })
	rep.Assessment = custody.Assess(c.records, rep.checked())
	return rep, nil
}

// checked hands this verification's at-rest results to custody.Assess:
// each file's verdict with the findings about it, and the failures that
// concern the log itself.
func (r *Verification) checked() *custody.Checked {
	why := map[string][]string{}
	ch := &custody.Checked{Time: time.Now().UTC()}
	for _, f := range r.Findings {
		if f.Severity != custody.Failure {
			continue
		}
		if f.File == "" {
			ch.ChainProblems = append(ch.ChainProblems, f.String())
			continue
		}
		s := f.What
		if f.Piece != nil {
			s = f.Piece.String() + ": " + s
		}
		why[f.File] = append(why[f.File], s)
	}
	for _, f := range r.Files {
		ch.Files = append(ch.Files, custody.AtRestCheck{Path: f.Path, Verdict: f.Verdict, Why: strings.Join(why[f.Path], "; ")})
	}
	return ch
}

// verifyFile re-hashes one finalized file at rest and compares. It opens
// the file through root so that nothing outside the evidence folder, even
// by a symlink, is read, and feeds it to digest.Reader (what digest.File
// does), which ctx stops, so that a multi-terabyte re-hash can be stopped.
func verifyFile(ctx context.Context, root *os.Root, fe *finalEntry) (FileCheck, []custody.Finding) {
	res := FileCheck{Path: fe.Path, Line: fe.rec.Line, Size: fe.Size, Hashes: fe.Hashes}
	var out []custody.Finding
	fail := func(v custody.AtRest, format string, args ...any) (FileCheck, []custody.Finding) {
		res.Verdict = v
		out = append(out, custody.Finding{Severity: custody.Failure, Line: fe.rec.Line, File: fe.Path, What: fmt.Sprintf(format, args...)})
		return res, out
	}
	if root == nil {
		return fail(custody.RestMissing, "recorded in the log but missing: there is no %s", strings.TrimPrefix(fe.where(), "the "))
	}
	native := filepath.FromSlash(fe.Path)
	fi, err := root.Lstat(native)
	if errors.Is(err, os.ErrNotExist) {
		return fail(custody.RestMissing, "recorded in the log but missing from %s", fe.where())
	}
	if err != nil {
		return fail(custody.RestUnreadable, "cannot stat: %v", err)
	}
	if !fi.Mode().IsRegular() {
		return fail(custody.RestUnreadable, "not a regular file (%s)", fi.Mode().Type())
	}

	var known []string
	for _, alg := range slices.Sorted(maps.Keys(fe.Hashes)) {
		if _, ok := hexLen[alg]; ok {
			known = append(known, alg)
		} else {
			out = append(out, custody.Finding{Severity: custody.Notice, Line: fe.rec.Line, File: fe.Path,
				What: fmt.Sprintf("hash algorithm %q is recorded but cannot be re-computed here; not checked", alg)})
		}
	}
	algs, err := digest.Parse(strings.Join(known, ","))
	if err != nil || len(algs) == 0 {
		return fail(custody.RestUnreadable, "no re-computable hash recorded")
	}
	pieceSize := int64(0)
	if fe.piecesOK {
		if fe.PieceAlgorithm == digest.PieceAlgorithm(algs) {
			pieceSize = fe.PieceSize
		} else {
			out = append(out, custody.Finding{Severity: custody.Notice, Line: fe.rec.Line, File: fe.Path,
				What: fmt.Sprintf("piece hashes use %s but the recorded algorithms would give %s; pieces not compared", fe.PieceAlgorithm, digest.PieceAlgorithm(algs))})
		}
	}

	f, err := root.Open(native)
	if err != nil {
		return fail(custody.RestUnreadable, "cannot open: %v", err)
	}
	got, err := digest.Reader(ctx, f, algs, pieceSize)
	f.Close()
	if ctx.Err() != nil {
		res.Verdict = custody.RestNotChecked
		return res, out
	}
	if err != nil {
		return fail(custody.RestUnreadable, "read error while re-hashing: %v", err)
	}

	res.Verdict = custody.RestIntact
	if got.Size != fe.Size {
		fail(custody.RestMismatch, "size at rest is %d bytes, the log recorded %d", got.Size, fe.Size)
	}
	var differ []string
	for _, alg := range algs {
		if got.Sums[alg] != fe.Hashes[alg] {
			differ = append(differ, fmt.Sprintf("%s logged %s, at rest %s", alg, fe.Hashes[alg], got.Sums[alg]))
		}
	}
	if len(differ) > 0 {
		fail(custody.RestMismatch, "content changed: %s", strings.Join(differ, "; "))
	}
	if pieceSize > 0 {
		spans := pieceSpans(FinalizedResult(fe.FileFinalized).BadPieces(got), pieceSize, max(got.Size, fe.Size))
		for _, sp := range spans {
			out = append(out, custody.Finding{Severity: custody.Failure, Line: fe.rec.Line, File: fe.Path, Piece: &sp,
				What: fmt.Sprintf("%s piece hash differs: the change lies in these bytes", fe.PieceAlgorithm)})
		}
		if len(spans) > 0 && len(differ) == 0 {
			fail(custody.RestMismatch, "whole-file hashes match but piece hashes differ: the log record contradicts itself")
		}
	}
	if res.Verdict == custody.RestIntact {
		for _, a := range fe.Anomalies {
			out = append(out, custody.Finding{Severity: custody.Notice, Line: fe.rec.Line, File: fe.Path,
				What: "the sink recorded an anomaly while receiving this file: " + a})
		}
	}
	return res, out
}

// pieceSpans groups consecutive bad piece indexes into ranges with their
// byte offsets in a file of size bytes.
func pieceSpans(bad []int, pieceSize, size int64) []custody.PieceRange {
	var out []custody.PieceRange
	for _, i := range bad {
		start := int64(i) * pieceSize
		end := max(min(start+pieceSize, size)-1, start)
		if n := len(out); n > 0 && out[n-1].Last == i-1 {
			out[n-1].Last = i
			out[n-1].End = end
			continue
		}
		out = append(out, custody.PieceRange{First: i, Last: i, Start: start, End: end})
	}
	return out
}

// unloggedFiles lists what lies in the evidence folder without a
// file.finalized record: such a file was never verified by the sink, so
// its presence is a failure, whatever it holds.
func unloggedFiles(evDir string, logged map[string]bool, created map[string]int, scratch []string, record string) ([]FileCheck, []custody.Finding) {
	var res []FileCheck
	var out []custody.Finding
	err := filepath.WalkDir(evDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			out = append(out, custody.Finding{Severity: custody.Failure, What: fmt.Sprintf("cannot read the evidence folder: %v", err)})
			if d != nil && d.IsDir() && p != evDir {
				return fs.SkipDir
			}
			return nil
		}
		if p == evDir || d.IsDir() || isScratch(d.Name(), scratch) {
			return nil
		}
		rel, rerr := filepath.Rel(evDir, p)
		if rerr != nil {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		if logged[rel] {
			return nil
		}
		var size int64
		if fi, ierr := d.Info(); ierr == nil {
			size = fi.Size()
		}
		v := custody.RestUnlogged
		if created[rel] > 0 {
			v = custody.RestPartial
		}
		res = append(res, FileCheck{Path: rel, Size: size, Verdict: v})
		what := "no " + record + " record covers this file"
		switch {
		case !d.Type().IsRegular():
			what = fmt.Sprintf("not a regular file (%s) and not covered by any record", d.Type())
		case created[rel] > 0:
			what = fmt.Sprintf("created (log line %d) but never finalized: interrupted acquisition, or the finalization was not logged", created[rel])
		}
		out = append(out, custody.Finding{Severity: custody.Failure, File: rel, What: what})
		return nil
	})
	if err != nil {
		out = append(out, custody.Finding{Severity: custody.Failure, What: fmt.Sprintf("walk evidence folder %s: %v", evDir, err)})
	}
	return res, out
}
