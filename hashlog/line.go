package hashlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/esxsink/esxsink/custody"
)

// GenesisPrev is the prev of the first record, and the head of an empty log.
const GenesisPrev = "0000000000000000000000000000000000000000000000000000000000000000"

// TimeFormat is the one spelling of record times: RFC 3339, UTC, with
// exactly nine fractional digits so lines stay deterministic and sortable.
const TimeFormat = "2006-01-02T15:04:05.000000000Z"

// wireRecord is a line's JSON; the field order is the order on disk.
type wireRecord struct {
	Seq  int64           `json:"seq"`
	Time string          `json:"time"`
	Type string          `json:"type"`
	Prev string          `json:"prev"`
	Data json.RawMessage `json:"data"`
}

// lineHash is the SHA-256 hex of a stored line; b must include its "\n".
func lineHash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkType enforces the record type syntax: lower-case words of [a-z0-9]
// joined by '.', '_' or '-'. A strict syntax keeps types greppable and
// stops a caller from smuggling JSON or spaces into the field.
func checkType(typ string) error {
	if typ == "" || len(typ) > 64 {
		return fmt.Errorf("record type %q: want 1 to 64 characters", typ)
	}
	prevSep := true
	for i := 0; i < len(typ); i++ {
		c := typ[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			prevSep = false
		case c == '.' || c == '_' || c == '-':
			if prevSep {
				return fmt.Errorf("record type %q: separator at start or doubled", typ)
			}
			prevSep = true
		default:
			return fmt.Errorf("record type %q: only a-z, 0-9 and . _ - are allowed", typ)
		}
	}
	if prevSep {
		return fmt.Errorf("record type %q ends with a separator", typ)
	}
	return nil
}

// marshalData turns a record's data into a JSON object. nil becomes {}.
func marshalData(data any) (json.RawMessage, error) {
	if data == nil {
		return json.RawMessage("{}"), nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("marshal record data: %w", err)
	}
	if len(b) == 0 || b[0] != '{' {
		if string(b) == "null" {
			return json.RawMessage("{}"), nil
		}
		return nil, fmt.Errorf("record data must be a JSON object, got %.20s", b)
	}
	return b, nil
}

// encodeLine renders w as one stored line, newline included.
func encodeLine(w wireRecord) ([]byte, error) {
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("marshal record: %w", err)
	}
	return append(b, '\n'), nil
}

var errNotCanonical = errors.New("not in the canonical form the log writer produces (hand-edited?)")

// parseLine decodes a stored line without its newline and checks that it is
// a well-formed record in canonical form.
func parseLine(raw []byte) (*wireRecord, error) {
	if len(raw) == 0 {
		return nil, errors.New("empty line")
	}
	var w wireRecord
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if w.Seq < 1 {
		return nil, fmt.Errorf("seq %d: must be 1 or more", w.Seq)
	}
	t, err := time.Parse(time.RFC3339Nano, w.Time)
	if err != nil || t.UTC().Format(TimeFormat) != w.Time {
		return nil, fmt.Errorf("time %q: want RFC 3339 UTC with nine fractional digits", w.Time)
	}
	if err := checkType(w.Type); err != nil {
		return nil, err
	}
	if len(w.Prev) != 64 || strings.Trim(w.Prev, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("prev %q: want 64 lower-case hex digits", w.Prev)
	}
	if len(w.Data) == 0 || w.Data[0] != '{' {
		return nil, errors.New("data is missing or not a JSON object")
	}
	// Re-encoding must give back the same bytes: this rejects unknown or
	// duplicated fields, other key spellings, and spacing changes.
	again, err := json.Marshal(w)
	if err != nil || !bytes.Equal(again, raw) {
		return nil, errNotCanonical
	}
	return &w, nil
}

// toRecord converts a parsed line to the public form.
func toRecord(w *wireRecord, line int, off int64, hash string) custody.Record {
	t, _ := time.Parse(time.RFC3339Nano, w.Time) // parseLine checked it
	return custody.Record{
		Seq:    w.Seq,
		Time:   t,
		Type:   w.Type,
		Prev:   w.Prev,
		Data:   w.Data,
		Line:   line,
		Offset: off,
		Hash:   hash,
	}
}
