// Package memlog is an in-memory custody log for tests that start a real
// sink and then count or read its records. It depends on hashlog alone, so
// nfssink's own tests can use it without an import cycle (internal/sinktest,
// which imports nfssink, cannot serve them).
package memlog

import (
	"encoding/json"
	"sync"

	"github.com/esxsink/esxsink/custody"
)

// Log keeps appended records in memory; the zero value is ready and it is
// safe for concurrent use. It satisfies nfssink.CustodyLog.
type Log struct {
	mu   sync.Mutex
	recs []custody.Record
}

// Append keeps the record with data marshalled as JSON, as hashlog does.
func (l *Log) Append(typ string, data any) (custody.Record, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return custody.Record{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := custody.Record{Type: typ, Data: b}
	l.recs = append(l.recs, r)
	return r, nil
}

// Records returns the records of type typ, oldest first.
func (l *Log) Records(typ string) []custody.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []custody.Record
	for _, r := range l.recs {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Count returns how many records of type typ were appended.
func (l *Log) Count(typ string) int { return len(l.Records(typ)) }
