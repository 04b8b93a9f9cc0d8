package hashlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/esxsink/esxsink/custody"
)

// ErrLogLocked reports that another process has the custody log open for
// appending.
var ErrLogLocked = errors.New("custody log is already open for appending by another process")

// ErrClosed reports an Append on a closed Log.
var ErrClosed = errors.New("custody log is closed")

// Log appends records to a case's custody log. It is safe for concurrent
// use; records are numbered and chained in the order Append takes its lock.
type Log struct {
	path string

	mu     sync.Mutex
	f      *os.File
	seq    int64  // seq of the last record
	head   string // hash of the last chain line
	lines  int    // lines in the file
	size   int64  // bytes in the file
	broken error  // set when the file may hold a partial line; stops Appends
	damage []custody.Finding
}

// Open opens the custody log of the case in caseDir for appending,
// creating the case folder, its evidence folder and the log if missing.
//
// An existing log is read to find its head; nothing in it is rewritten. If
// it ends with a torn line (a crash mid-write), Open terminates that line
// and appends a log.torn_tail record naming its bytes. If the chain is
// damaged, Open still succeeds, because an examiner must be able to keep
// recording; the damage is available from Damage and new records chain on
// from the last line as it stands.
func Open(caseDir string) (*Log, error) {
	for _, dir := range []string{caseDir, EvidenceDir(caseDir)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create case folder %s: %w", dir, err)
		}
	}
	path := LogPath(caseDir)
	_, statErr := os.Lstat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	// O_APPEND makes every write land at the end whatever the file offset,
	// so reading the log through the same descriptor cannot misplace one.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open custody log %s: %w", path, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, err
	}
	if created {
		if err := syncDir(caseDir); err != nil {
			f.Close()
			return nil, err
		}
	}
	c, err := readChain(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read custody log %s: %w", path, err)
	}
	if c.truncated {
		f.Close()
		return nil, fmt.Errorf("custody log %s has a line longer than %d bytes; refusing to append to a log that cannot be read", path, MaxLineSize)
	}
	l := &Log{path: path, f: f, seq: c.headSeq, head: c.headHash, lines: c.lines, size: c.size}
	for _, fd := range c.findings {
		if fd.Severity == custody.Failure {
			l.damage = append(l.damage, fd)
		}
	}
	if c.tail != nil {
		if err := l.recoverTornTail(c.tail); err != nil {
			f.Close()
			return nil, err
		}
	}
	return l, nil
}

// recoverTornTail terminates the torn last line and records it, in one
// write so that a crash now leaves at most another torn tail.
func (l *Log) recoverTornTail(t *entry) error {
	sum := sha256.Sum256(t.raw)
	data, err := marshalData(custody.TornTail{Offset: t.off, Length: int64(len(t.raw)), SHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// The "\n" makes the torn bytes a line of their own.
	if _, err := l.appendLocked(custody.TypeTornTail, data, []byte{'\n'}); err != nil {
		return fmt.Errorf("record torn tail of custody log %s: %w", l.path, err)
	}
	return nil
}

// Path returns the file path of the log.
func (l *Log) Path() string { return l.path }

// Damage returns the chain failures found when the log was opened, nil for
// an intact log. Callers should show them to the examiner and may record a
// note; verification will keep reporting them.
func (l *Log) Damage() []custody.Finding { return l.damage }

// Head returns the seq of the last record and the SHA-256 of its line: the
// value to write down outside the case (doc.go). An empty log has head
// (0, GenesisPrev). The next record's prev is always the head hash.
func (l *Log) Head() (seq int64, hash string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, l.head
}

// Append adds a record of type typ with data (a struct from records.go, or
// any value that marshals to a JSON object; nil means {}) and returns it
// once it is synced to disk. Types starting with "log." are reserved.
//
// If a write or sync fails the error is returned and, because the file may
// now hold a partial line or unsynced data whose fate is unknown, every
// later Append fails too; reopening the log recovers (torn tail).
func (l *Log) Append(typ string, data any) (custody.Record, error) {
	if err := checkType(typ); err != nil {
		return custody.Record{}, err
	}
	if strings.HasPrefix(typ, reservedTypePrefix) {
		return custody.Record{}, fmt.Errorf("record type %q is reserved for the custody log itself", typ)
	}
	if err := checkData(data); err != nil {
		return custody.Record{}, err
	}
	raw, err := marshalData(data)
	if err != nil {
		return custody.Record{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appendLocked(typ, raw, nil)
}

// checkData validates the fields of known data types that verification
// depends on, so that a bad record is refused when written rather than
// reported later.
func checkData(data any) error {
	var p string
	switch d := data.(type) {
	case custody.FileFinalized:
		p = d.Path
	case *custody.FileFinalized:
		p = d.Path
	default:
		return nil
	}
	if err := CheckEvidencePath(p); err != nil {
		return fmt.Errorf("file.finalized: %w", err)
	}
	return nil
}

// appendLocked writes prefix followed by the record line in one write and
// syncs. l.mu must be held.
func (l *Log) appendLocked(typ string, data json.RawMessage, prefix []byte) (custody.Record, error) {
	if l.f == nil {
		return custody.Record{}, ErrClosed
	}
	if l.broken != nil {
		return custody.Record{}, l.broken
	}
	w := wireRecord{
		Seq:  l.seq + 1,
		Time: time.Now().UTC().Format(TimeFormat),
		Type: typ,
		Prev: l.head,
		Data: data,
	}
	line, err := encodeLine(w)
	if err != nil {
		return custody.Record{}, err
	}
	buf := append(prefix[:len(prefix):len(prefix)], line...)
	n, err := l.f.Write(buf)
	if err != nil {
		err = fmt.Errorf("append to custody log %s: %w", l.path, err)
		if n > 0 {
			l.broken = err
		}
		return custody.Record{}, err
	}
	if err := l.f.Sync(); err != nil {
		// After a failed fsync the kernel may have dropped the data while
		// reporting it clean; nothing written after it can be trusted.
		l.broken = fmt.Errorf("sync custody log %s: %w", l.path, err)
		return custody.Record{}, l.broken
	}
	off := l.size + int64(len(prefix))
	l.size += int64(len(buf))
	l.lines += 1 + bytes.Count(prefix, []byte{'\n'})
	l.seq = w.Seq
	l.head = lineHash(line)
	return toRecord(&w, l.lines, off, l.head), nil
}

// Close closes the log; later Appends fail with ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("close custody log %s: %w", l.path, err)
	}
	return nil
}
