package nfssink

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Handles are derived from the case key and the file's path, never from
// per-process state, so an ESXi host that keeps its handles across a sink
// restart finds the same files (a restarted server answering STALE makes
// ESXi mark the datastore inaccessible). Paths never change under the sink
// because RENAME is refused, which is what makes a path-derived handle
// sound. A handle from another case does not match the key and is STALE.
//
// Layout (32 bytes): "ESXS" | case key (8) | SHA-256(key || path)[:20].

var handleMagic = []byte("ESXS")

const handleLen = 4 + 8 + 20

// errStale means a handle names no file of this case.
var errStale = errors.New("stale file handle")

type handleTable struct {
	key  [8]byte
	root string // evidence folder

	mu       sync.RWMutex
	byHash   map[[20]byte]string // path hash -> slash-separated relative path
	walkMu   sync.Mutex          // one fallback walk at a time
	lastWalk time.Time           // bogus handles must not make every call walk the tree
}

// walkInterval is the least time between two fallback walks.
const walkInterval = time.Second

func newHandleTable(key [8]byte, root string) *handleTable {
	return &handleTable{key: key, root: root, byHash: map[[20]byte]string{}}
}

func (t *handleTable) sum(rel string) [20]byte {
	h := sha256.New()
	h.Write(t.key[:])
	h.Write([]byte(rel))
	var out [20]byte
	copy(out[:], h.Sum(nil))
	return out
}

// handle returns the file handle for rel ("" is the export root).
func (t *handleTable) handle(rel string) []byte {
	s := t.sum(rel)
	t.mu.Lock()
	t.byHash[s] = rel
	t.mu.Unlock()
	fh := make([]byte, 0, handleLen)
	fh = append(fh, handleMagic...)
	fh = append(fh, t.key[:]...)
	return append(fh, s[:]...)
}

// fileid is stable for a path for the life of the case; ESXi derives its
// .lck-<fileid> lock names from it.
func (t *handleTable) fileid(rel string) uint64 {
	s := t.sum(rel)
	id := binary.BigEndian.Uint64(s[:8]) >> 1 // keep it positive for clients that use signed ids
	if id == 0 {
		id = 1
	}
	return id
}

// path resolves a handle. After a restart the table is empty, so a miss
// walks the evidence folder once to rebuild it.
func (t *handleTable) path(fh []byte) (string, error) {
	if len(fh) != handleLen || !bytes.Equal(fh[:4], handleMagic) || !bytes.Equal(fh[4:12], t.key[:]) {
		return "", errStale
	}
	var s [20]byte
	copy(s[:], fh[12:])
	if rel, ok := t.lookup(s); ok {
		return rel, nil
	}
	t.walkMu.Lock()
	defer t.walkMu.Unlock()
	if rel, ok := t.lookup(s); ok {
		return rel, nil
	}
	if time.Since(t.lastWalk) < walkInterval {
		return "", errStale
	}
	t.rebuild()
	t.lastWalk = time.Now()
	if rel, ok := t.lookup(s); ok {
		return rel, nil
	}
	return "", errStale
}

func (t *handleTable) lookup(s [20]byte) (string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	rel, ok := t.byHash[s]
	return rel, ok
}

func (t *handleTable) rebuild() {
	found := map[[20]byte]string{}
	_ = filepath.WalkDir(t.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable entries simply stay unresolvable
		}
		rel, rerr := filepath.Rel(t.root, p)
		if rerr != nil {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = ""
		}
		found[t.sum(rel)] = rel
		return nil
	})
	t.mu.Lock()
	for k, v := range found {
		t.byHash[k] = v
	}
	t.mu.Unlock()
}

// splitRel turns a relative slash path into go-nfs's component form.
func splitRel(rel string) []string {
	if rel == "" {
		return []string{}
	}
	return strings.Split(rel, "/")
}
