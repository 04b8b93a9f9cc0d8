package custody

import (
	"encoding/json"
	"fmt"
	"time"
)

// Record is one custody record as read from or appended to the log.
type Record struct {
	Seq  int64           `json:"seq"`
	Time time.Time       `json:"time"`
	Type string          `json:"type"`
	Prev string          `json:"prev"`
	Data json.RawMessage `json:"data"`
	// Line is the 1-based line number in the log file.
	Line int `json:"line"`
	// Offset is the byte offset of the line in the log file.
	Offset int64 `json:"offset"`
	// Hash is the SHA-256 hex of the line as stored, newline included: the
	// prev of the next record, and the head of the log if it is the last.
	Hash string `json:"hash"`
}

// Decode unmarshals the record's data into v, e.g. a *FileFinalized.
func (r Record) Decode(v any) error {
	if err := json.Unmarshal(r.Data, v); err != nil {
		return fmt.Errorf("custody log line %d (%s): decode data: %w", r.Line, r.Type, err)
	}
	return nil
}
