package nfssink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/hashlog"
)

// The SFTP transport reads each evidence file from the host over SFTP and
// hands the stream to Receive. The file goes through the same policy and
// the same tracker as one the host writes over NFS: the same name rules,
// write-once creation, file.created record, space reserve, hashing as the
// bytes arrive and Finalize with its at-rest check. Only the front end
// differs, so the custody log of an SFTP acquisition reads like an NFS one.

// receiveChunk is how much of a stream one tracker write takes: large
// enough that the hashers, not the bookkeeping, set the pace.
const receiveChunk = 1 << 20

// procReceive names the stream front end in policy.refused records, where
// NFS records name the RPC procedure.
const procReceive = "RECEIVE"

// StartReceiver starts the sink without binding any port: evidence then
// arrives only through Receive. It is for a workstation that cannot bind
// 111/2049, or a host that may not mount NFS. Like Start it records
// sink.started and runs idle finalization; Close stops it.
func (s *Sink) StartReceiver(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	s.record(custody.TypeSinkStarted, custody.SinkStarted{
		WriteVerifier: s.Verifier(),
		Listen:        []string{"none: files arrive as streams (sftp transport); no NFS, MOUNT or portmap port is bound"},
		Config: map[string]any{
			"hash": s.cfg.Hash, "piece_size": s.cfg.PieceSize, "idle_finalize": s.cfg.IdleFinalize.String(),
			"evidence": s.cfg.EvidenceDir,
		},
	})
	s.log.Info("sink receiving streams only (no NFS listener)", "evidence", s.cfg.EvidenceDir)
	s.wg.Add(1)
	go s.idleLoop(ctx)
	return nil
}

// Receive creates the evidence file rel (relative to the evidence folder;
// its folder must exist) and writes r into it from offset 0, hashing as it
// goes, until r ends. from names the sender in the file.created record
// ("sftp root@esx01:22 /vmfs/volumes/..."). It returns the bytes written.
// An existing file is never touched: the write-once rule refuses it. The
// file stays open until Finalize(rel, ...), which records its hashes; a
// stream that fails midway leaves what arrived, to be finalized as such.
func (s *Sink) Receive(ctx context.Context, rel, from string, r io.Reader) (int64, error) {
	if err := s.createForStream(rel, from); err != nil {
		return 0, err
	}
	buf := make([]byte, receiveChunk)
	var off int64
	for {
		if err := ctx.Err(); err != nil {
			return off, fmt.Errorf("receive %s: stopped after %d bytes: %w", rel, off, err)
		}
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			if err := s.writeStream(rel, off, buf[:n]); err != nil {
				return off, err
			}
			off += int64(n)
		}
		switch {
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			return off, nil
		case rerr != nil:
			return off, fmt.Errorf("receive %s: the stream failed after %d bytes: %w", rel, off, rerr)
		}
	}
}

// createForStream is CREATE's GUARDED mode for a stream: validate the name,
// refuse an existing file, create and start tracking.
func (s *Sink) createForStream(rel, from string) error {
	if err := hashlog.CheckEvidencePath(rel); err != nil {
		s.refuseStream(from, rel, err.Error())
		return fmt.Errorf("receive: %w", err)
	}
	dir, name := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	for _, part := range strings.Split(rel, "/") {
		if err := validName(part); err != nil {
			s.refuseStream(from, sanitizeForLog(rel), "invalid name: "+err.Error())
			return fmt.Errorf("receive %s: invalid name: %w", sanitizeForLog(rel), err)
		}
	}
	if s.scratch.match(name) {
		s.refuseStream(from, rel, "the client's scratch file names are not evidence")
		return fmt.Errorf("receive %s: %q is named like the client's own scratch files (%s), not evidence", rel, name, strings.Join(s.scratch, ", "))
	}
	if a := s.attrsOf(dir); a == nil || !a.dir {
		return fmt.Errorf("receive %s: folder %q does not exist in the evidence folder %s: create it first: %w", rel, dir, s.cfg.EvidenceDir, fs.ErrNotExist)
	}
	osPath := filepath.FromSlash(rel)
	if _, err := s.root.Lstat(osPath); err == nil {
		s.refuseStream(from, rel, "the file exists; evidence is written once")
		return fmt.Errorf("receive %s: the file already exists in %s and the sink never overwrites evidence: choose another name: %w", rel, s.cfg.EvidenceDir, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("receive %s: %w", rel, err)
	}
	f, err := s.root.OpenFile(osPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, evidenceFileMode)
	if err != nil {
		if isNoSpace(err) {
			return fmt.Errorf("receive %s: %w: %w", rel, ErrNoSpace, err)
		}
		return fmt.Errorf("receive %s: create: %w", rel, err)
	}
	s.adoptCreated(rel, f)
	s.log.Info("file created", "path", rel, "from", from)
	s.record(custody.TypeFileCreated, custody.FileCreated{Path: rel, FileID: s.handles.fileid(rel), Client: from})
	return nil
}

// writeStream stores one chunk as onWrite stores an NFS WRITE: through the
// file's tracker, taking the file up again if the idle timer finalized it,
// with the same anomaly, no-space and error records.
func (s *Sink) writeStream(rel string, off int64, data []byte) error {
	t, n, status, err := s.evidenceWrite(rel, off, data)
	switch {
	case t == nil:
		return fmt.Errorf("receive %s: the file is no longer open for writing (NFS status %d)", rel, status)
	case err == nil:
		s.stats.written.Add(int64(n))
		return nil
	case status == nfs3ErrNoSpc:
		return fmt.Errorf("receive %s at offset %d: %w: free space on %s and collect again: %w", rel, off, ErrNoSpace, s.cfg.EvidenceDir, err)
	}
	return fmt.Errorf("receive %s at offset %d: %w", rel, off, err)
}

func (s *Sink) refuseStream(from, rel, reason string) {
	s.log.Warn("refused by write-once policy", "procedure", procReceive, "path", rel, "reason", reason)
	s.record(custody.TypePolicyRefused, custody.PolicyRefused{Client: from, Procedure: procReceive, Path: rel, Reason: reason})
}
