// Package benchtable collects the figures `make bench` prints: each
// benchmark measures esxsink and its peer in the same run and records one
// row per figure (ours, the peer's, their ratio and the target), so that a
// run ends with one table and a JSON file that later runs can be compared
// with. Absolute times on a shared machine are noise; ratios are not.
package benchtable

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// OutEnv names the JSON-lines file rows are appended to. `make bench` sets
// it; without it rows are only printed.
const OutEnv = "ESXSINK_BENCH_OUT"

// Row is one figure of the table.
type Row struct {
	Figure string `json:"figure"`
	// Ours and Peer are the measured values as printed ("612 MB/s").
	Ours string `json:"ours"`
	Peer string `json:"peer"`
	// Ratio compares ours with the peer in the target's sense: for a
	// speed, our MB/s over theirs; for a time, our seconds over theirs.
	Ratio float64 `json:"ratio"`
	// Target is the bound the ratio must meet; AtMost says whether it is
	// an upper bound (times) or a lower bound (speeds).
	Target float64 `json:"target"`
	AtMost bool    `json:"at_most"`
	// Note says how the figure was taken (best of N, spread seen).
	Note string `json:"note,omitempty"`
	// Info marks a row printed for information, with no target.
	Info bool      `json:"info,omitempty"`
	Met  bool      `json:"met"`
	At   time.Time `json:"at"`
}

// Wanted renders the target ("≥ 0.85", "≤ 1.00", "-").
func (r Row) Wanted() string {
	switch {
	case r.Info:
		return "-"
	case r.AtMost:
		return fmt.Sprintf("≤ %.2f", r.Target)
	}
	return fmt.Sprintf("≥ %.2f", r.Target)
}

// Verdict renders whether the target was met.
func (r Row) Verdict() string {
	switch {
	case r.Info:
		return "-"
	case r.Met:
		return "yes"
	}
	return "NO"
}

func (r *Row) judge() {
	switch {
	case r.Info:
		r.Met = true
	case r.AtMost:
		r.Met = r.Ratio <= r.Target
	default:
		r.Met = r.Ratio >= r.Target
	}
}

var appendMu sync.Mutex

// Record prints r and appends it to the file named by $ESXSINK_BENCH_OUT.
func Record(tb testing.TB, r Row) {
	tb.Helper()
	r.judge()
	r.At = time.Now().UTC()
	fmt.Printf("bench: %s: ours %s, peer %s, ratio %.2f (target %s: %s)\n", r.Figure, r.Ours, r.Peer, r.Ratio, r.Wanted(), r.Verdict())
	path := os.Getenv(OutEnv)
	if path == "" {
		return
	}
	line, err := json.Marshal(r)
	if err != nil {
		tb.Fatal(err)
	}
	appendMu.Lock()
	defer appendMu.Unlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		tb.Fatalf("bench table %s: %v", path, err)
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		tb.Fatalf("bench table %s: %v", path, err)
	}
}
