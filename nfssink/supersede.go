package nfssink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/digest"
	"github.com/esxsink/esxsink/hashlog"
)

// evidenceDirMode is the mode of folders the sink creates itself.
const evidenceDirMode = 0o750

// MakeDir creates the folder rel (and its parents) in the evidence folder,
// so that the host finds the layout of the plan in place before it writes.
// Each folder it creates is recorded as dir.created.
func (s *Sink) MakeDir(rel string) error {
	if err := hashlog.CheckEvidencePath(rel); err != nil {
		return fmt.Errorf("create evidence folder: %w", err)
	}
	var missing []string
	for p := rel; p != "."; p = path.Dir(p) {
		fi, err := s.root.Lstat(filepath.FromSlash(p))
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("create evidence folder %s: %s exists and is not a folder", rel, p)
			}
			break
		}
		missing = append(missing, p)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		p := missing[i]
		if err := s.root.Mkdir(filepath.FromSlash(p), evidenceDirMode); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create evidence folder %s: %w", p, err)
		}
		s.record(custody.TypeDirCreated, custody.FileCreated{Path: p, Client: "esxsink"})
	}
	return nil
}

// Supersede moves the earlier attempt at rel out of the way of a new copy
// of the same source: to superseded/<run>/<rel> (superseded/<run>-N/<rel>
// when that is taken), so the new copy gets the host's name and the old
// bytes stay in the case. Only the sink moves evidence; NFS clients still
// may not rename or remove anything. The attempt is finalized first (from
// disk when this process never saw it arrive), and the move is recorded
// as file.superseded with its size and hashes. It returns nil, nil when
// nothing is at rel.
func (s *Sink) Supersede(rel, run, reason string) (*custody.FileSuperseded, error) {
	if err := hashlog.CheckEvidencePath(rel); err != nil {
		return nil, fmt.Errorf("supersede: %w", err)
	}
	if run == "" || path.Base(run) != run || run == "." || run == ".." {
		return nil, fmt.Errorf("supersede %s: run id %q cannot name a folder", rel, run)
	}
	fi, err := s.root.Lstat(filepath.FromSlash(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("supersede %s: %w", rel, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("supersede %s: not a regular file, left in place; choose another case folder", rel)
	}
	fin, err := s.finalForMove(rel)
	if err != nil {
		return nil, err
	}
	to, err := s.supersededPath(rel, run)
	if err != nil {
		return nil, err
	}
	if err := s.root.MkdirAll(filepath.FromSlash(path.Dir(to)), evidenceDirMode); err != nil {
		return nil, fmt.Errorf("supersede %s: create %s: %w", rel, path.Dir(to), err)
	}
	s.mu.Lock()
	if t, ok := s.trackers[rel]; ok && !t.done {
		s.mu.Unlock()
		return nil, fmt.Errorf("supersede %s: the host is writing it again; stop that copy first", rel)
	}
	err = s.root.Rename(filepath.FromSlash(rel), filepath.FromSlash(to))
	if err == nil {
		delete(s.finalized, rel)
		delete(s.exclusive, rel)
		moved := fin
		moved.Path = to
		s.finalized[to] = moved
	}
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("supersede %s: move to %s: %w", rel, to, err)
	}
	rec := &custody.FileSuperseded{From: rel, To: to, Size: fin.Size, Hashes: fin.Hashes, RunID: run, Reason: reason}
	s.record(custody.TypeFileSuperseded, rec)
	s.log.Info("attempt superseded", "from", rel, "to", to, "size", fin.Size)
	return rec, nil
}

// finalForMove returns rel's finalization: the tracker still open is
// finalized; a file this process never saw is hashed from disk and
// recorded, so the log vouches for the bytes that move.
func (s *Sink) finalForMove(rel string) (custody.FileFinalized, error) {
	s.mu.Lock()
	_, open := s.trackers[rel]
	prev, done := s.finalized[rel]
	s.mu.Unlock()
	switch {
	case open:
		return s.Finalize(context.Background(), rel, "superseded", -1, false)
	case done:
		return prev, nil
	}
	res, err := s.hashAtRest(context.Background(), rel)
	if err != nil {
		return custody.FileFinalized{}, fmt.Errorf("supersede %s: hash it before the move: %w", rel, err)
	}
	fin := custody.FileFinalized{Path: rel, Size: res.Size, Hashes: res.Sums, PieceSize: res.PieceSize, PieceAlgorithm: res.PieceAlgorithm,
		Pieces: res.Pieces, Reason: "superseded", FromDisk: true}
	s.remember(fin)
	return fin, nil
}

// supersededPath picks the first free superseded/<run>[-N]/<rel>.
func (s *Sink) supersededPath(rel, run string) (string, error) {
	for n := 1; n < 1000; n++ {
		tag := run
		if n > 1 {
			tag = fmt.Sprintf("%s-%d", run, n)
		}
		to := path.Join(custody.SupersededFolder, tag, rel)
		if _, err := s.root.Lstat(filepath.FromSlash(to)); errors.Is(err, fs.ErrNotExist) {
			return to, nil
		}
	}
	return "", fmt.Errorf("supersede %s: 999 earlier attempts of run %s already superseded; check the case", rel, run)
}

// OpenEvidence opens the evidence file rel read-only, through the
// evidence folder's root (nothing outside it, no symbolic link): for a
// reader such as the orchestrator's rescue, which looks for the blocks a
// copy zero-filled. ctx is unused: opening does not wait.
func (s *Sink) OpenEvidence(_ context.Context, rel string) (io.ReadSeekCloser, error) {
	if err := hashlog.CheckEvidencePath(rel); err != nil {
		return nil, fmt.Errorf("open evidence: %w", err)
	}
	fi, err := s.root.Lstat(filepath.FromSlash(rel))
	if err != nil {
		return nil, fmt.Errorf("open evidence %s: %w", rel, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("open evidence %s: not a regular file (%s)", rel, fi.Mode().Type())
	}
	f, err := s.root.Open(filepath.FromSlash(rel))
	if err != nil {
		return nil, fmt.Errorf("open evidence %s: %w", rel, err)
	}
	return f, nil
}

// hashAtRest hashes the evidence file rel as it is on disk, opened
// through the evidence folder's root (as OpenEvidence), with the sink's
// algorithms and pieces; ctx stops it.
func (s *Sink) hashAtRest(ctx context.Context, rel string) (digest.Result, error) {
	f, err := s.OpenEvidence(ctx, rel)
	if err != nil {
		return digest.Result{}, err
	}
	defer f.Close()
	res, err := digest.Reader(ctx, f, s.cfg.Hash, s.cfg.PieceSize)
	if err != nil {
		return res, fmt.Errorf("hash %s: %w", rel, err)
	}
	return res, nil
}
