package hashlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/digest"
)

// Appender is a custody log records are appended to (a *Log).
type Appender interface {
	Append(typ string, data any) (custody.Record, error)
}

// Keep writes data into the case in caseDir as the file k.Path (relative
// to the case folder, under custody.VCenterFolder) and records it: the
// file is created once (an existing file is never overwritten), synced
// with its folder, re-read from disk, and only then is the
// evidence.kept record appended with the SHA-256 of the bytes written
// and of the file at rest. Size, SHA256 and AtRest of k are filled in.
// A file whose record could not be appended stays, and verification
// reports it as not covered by any record.
func Keep(log Appender, caseDir string, data []byte, k custody.Kept) (custody.Record, error) {
	if err := checkKeptPath(k.Path); err != nil {
		return custody.Record{}, err
	}
	root, err := os.OpenRoot(caseDir)
	if err != nil {
		return custody.Record{}, fmt.Errorf("keep %s: open the case folder: %w", k.Path, err)
	}
	defer root.Close()
	native := filepath.FromSlash(k.Path)
	if err := root.MkdirAll(filepath.Dir(native), 0o755); err != nil {
		return custody.Record{}, fmt.Errorf("keep %s: %w", k.Path, err)
	}
	// Read-only once written: kept as read, never rewritten.
	f, err := root.OpenFile(native, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if errors.Is(err, os.ErrExist) {
		return custody.Record{}, fmt.Errorf("keep %s: the case already holds a file of that name, which is never overwritten", k.Path)
	}
	if err != nil {
		return custody.Record{}, fmt.Errorf("keep %s: %w", k.Path, err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	if err := errors.Join(werr, serr, f.Close()); err != nil {
		return custody.Record{}, fmt.Errorf("keep %s: write and sync: %w", k.Path, err)
	}
	if err := syncDir(filepath.Join(caseDir, filepath.Dir(native))); err != nil {
		return custody.Record{}, fmt.Errorf("keep %s: sync its folder: %w", k.Path, err)
	}
	sum := sha256.Sum256(data)
	k.Size, k.SHA256 = int64(len(data)), hex.EncodeToString(sum[:])
	rf, err := root.Open(native)
	if err != nil {
		return custody.Record{}, fmt.Errorf("keep %s: re-read: %w", k.Path, err)
	}
	got, err := digest.Reader(context.Background(), rf, []string{"sha256"}, 0)
	rf.Close()
	if err != nil {
		return custody.Record{}, fmt.Errorf("keep %s: re-read: %w", k.Path, err)
	}
	k.AtRest = got.Sums["sha256"]
	rec, err := log.Append(custody.TypeEvidenceKept, k)
	if err != nil {
		return rec, fmt.Errorf("keep %s: the custody log refused its record: %w", k.Path, err)
	}
	if !k.Intact() {
		return rec, fmt.Errorf("keep %s: re-read from disk it hashes to %s, written it was %s (recorded)", k.Path, k.AtRest, k.SHA256)
	}
	return rec, nil
}

// checkKeptPath: a kept file is a clean path under the case's
// vCenter folder.
func checkKeptPath(p string) error {
	if err := CheckEvidencePath(p); err != nil {
		return err
	}
	if !strings.HasPrefix(p, custody.VCenterFolder+"/") || path.Base(p) == p {
		return fmt.Errorf("kept file %q is not under %s/", p, custody.VCenterFolder)
	}
	return nil
}

// lastKept picks the last evidence.kept record of every path, in path
// order, as entries verifyFile checks (relative to the case folder).
func lastKept(records []custody.Record) (files []*finalEntry, findings []custody.Finding) {
	byPath := map[string]*finalEntry{}
	for _, r := range records {
		if r.Type != custody.TypeEvidenceKept {
			continue
		}
		var k custody.Kept
		if err := r.Decode(&k); err != nil {
			findings = append(findings, custody.Finding{Severity: custody.Failure, Line: r.Line, What: err.Error()})
			continue
		}
		if err := checkKeptPath(k.Path); err != nil {
			findings = append(findings, custody.Finding{Severity: custody.Failure, Line: r.Line, What: "evidence.kept names an unusable path, not checked: " + err.Error()})
			continue
		}
		byPath[k.Path] = &finalEntry{FileFinalized: custody.FileFinalized{Path: k.Path, Size: k.Size, Hashes: map[string]string{"sha256": k.SHA256}}, rec: r, folder: "the case folder"}
	}
	for _, p := range slices.Sorted(maps.Keys(byPath)) {
		files = append(files, byPath[p])
	}
	return files, findings
}

// verifyKept re-hashes the kept files at rest and lists what lies in the
// case's vCenter folder that no evidence.kept record covers.
func verifyKept(ctx context.Context, caseDir string, records []custody.Record) ([]FileCheck, []custody.Finding, error) {
	files, out := lastKept(records)
	var res []FileCheck
	dir := filepath.Join(caseDir, custody.VCenterFolder)
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) && len(files) == 0 {
		return nil, out, nil
	}
	root, err := os.OpenRoot(caseDir)
	if err != nil {
		return nil, out, fmt.Errorf("open case folder %s: %w", caseDir, err)
	}
	defer root.Close()
	logged := map[string]bool{}
	for _, fe := range files {
		logged[strings.TrimPrefix(fe.Path, custody.VCenterFolder+"/")] = true
		if ctx.Err() != nil {
			res = append(res, FileCheck{Path: fe.Path, Line: fe.rec.Line, Size: fe.Size, Hashes: fe.Hashes, Verdict: custody.RestNotChecked})
			continue
		}
		fc, found := verifyFile(ctx, root, fe)
		res = append(res, fc)
		out = append(out, found...)
	}
	if ctx.Err() != nil {
		return res, out, nil
	}
	if _, err := os.Lstat(dir); err == nil {
		un, found := unloggedFiles(dir, logged, nil, nil, custody.TypeEvidenceKept)
		for i := range un {
			un[i].Path = custody.VCenterFolder + "/" + un[i].Path
		}
		for i := range found {
			if found[i].File != "" {
				found[i].File = custody.VCenterFolder + "/" + found[i].File
			}
		}
		res = append(res, un...)
		out = append(out, found...)
	}
	return res, out, nil
}
