package custody

import (
	"fmt"
	"strings"
	"time"
)

// State is the verdict on one evidence file or planned copy. The same
// states are shown by collect's closing statement, esxsink verify and the
// report, from the same records, through Assess.
type State string

// States. Upper case marks a state that needs an explanation in court.
const (
	// Verified: whole (its size did not change while it was read, and
	// all of it arrived) and host hash = arrival hash = at-rest hash.
	Verified State = "verified"
	// CopiedLive: read while its VM could write it; what was read is
	// hashed on both sides and kept, but it is no moment's image.
	CopiedLive State = "copied live"
	// Received: the sink received and hashed it, no host-side hash is
	// recorded (the manual procedure). Intact since arrival.
	Received State = "received"
	// Mismatch: the hashes recorded for the file disagree.
	Mismatch State = "MISMATCH"
	// Failed: the copy did not complete or could not be checked; the
	// evidence folder may hold a partial file.
	Failed State = "FAILED"
	// NotVerified: verified when acquired, but a later check found it
	// changed, missing or unreadable, or it was written after it was
	// finalized.
	NotVerified State = "NOT VERIFIED"
	// NotStarted: planned, never copied.
	NotStarted State = "NOT STARTED"
	// Superseded: an earlier attempt a later copy replaced; kept as it
	// was received.
	Superseded State = "superseded"
	// Skipped: left out by the plan, with the reason.
	Skipped State = "skipped"
	// NotCollected: found on the host, not collected; Flag would collect it.
	NotCollected State = "NOT COLLECTED"
)

func (s State) String() string { return string(s) }

// Good reports whether s needs no explanation: the evidence is whole and
// intact.
func (s State) Good() bool { return s == Verified || s == CopiedLive || s == Received }

// Integrity reports whether s says evidence changed or disagrees.
func (s State) Integrity() bool { return s == Mismatch || s == NotVerified }

// Incomplete reports whether s says evidence that was meant to be
// acquired is missing or partial.
func (s State) Incomplete() bool { return s == Failed || s == NotStarted }

// FileState is one evidence file or planned copy with everything the
// records say about it.
type FileState struct {
	// Path is relative to the case's evidence folder; "" for a copy never
	// started and for evidence not collected.
	Path   string `json:"path"`
	Source string `json:"source,omitempty"`
	VM     string `json:"vm,omitempty"`
	VMID   int    `json:"vmid,omitempty"`
	Host   string `json:"host,omitempty"`
	RunID  string `json:"run_id,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Method string `json:"method,omitempty"`
	// Live marks a file copied while its VM was running, outside a
	// snapshot.
	Live bool   `json:"live,omitempty"`
	Note string `json:"note,omitempty"`
	Size int64  `json:"size"`
	// PlannedSize, SizeAtStart and SizeAtEnd are the source's size at
	// discovery, right before and right after the copy.
	PlannedSize int64 `json:"planned_size,omitempty"`
	SizeAtStart int64 `json:"size_at_start,omitempty"`
	SizeAtEnd   int64 `json:"size_at_end,omitempty"`
	// HostHashes were computed on the host, Arrival by the sink as the
	// bytes arrived, AtRest re-read from the sink's disk.
	HostHashes map[string]string `json:"host_hashes,omitempty"`
	Arrival    map[string]string `json:"arrival_hashes,omitempty"`
	AtRest     map[string]string `json:"at_rest_hashes,omitempty"`
	ReadErrors []string          `json:"read_errors,omitempty"`
	BadSectors []SectorRange     `json:"bad_sectors,omitempty"`
	Anomalies  []string          `json:"anomalies,omitempty"`
	Attempts   int               `json:"attempts,omitempty"`
	Time       time.Time         `json:"time"`
	// Line is the custody log line of the record the verdict rests on.
	Line    int   `json:"line"`
	Verdict State `json:"verdict"`
	// Reason explains a verdict other than verified.
	Reason string `json:"reason,omitempty"`
	// Flag is the collect option that would collect evidence not collected.
	Flag string `json:"flag,omitempty"`
	// CheckedAt is the verification whose result is applied, if any.
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

// Counts tallies file states; Files counts evidence files (verified,
// copied live, received, mismatch, failed, not verified) and planned
// copies not started.
type Counts struct {
	Files        int   `json:"files"`
	Bytes        int64 `json:"bytes"`
	Verified     int   `json:"verified"`
	CopiedLive   int   `json:"copied_live"`
	Received     int   `json:"received"`
	Mismatch     int   `json:"mismatch"`
	Failed       int   `json:"failed"`
	NotVerified  int   `json:"not_verified"`
	NotStarted   int   `json:"not_started"`
	Superseded   int   `json:"superseded"`
	Skipped      int   `json:"skipped"`
	NotCollected int   `json:"not_collected"`
}

func (c *Counts) add(f FileState) {
	switch f.Verdict {
	case Superseded:
		c.Superseded++
		return
	case Skipped:
		c.Skipped++
		return
	case NotCollected:
		c.NotCollected++
		return
	case Verified:
		c.Verified++
	case CopiedLive:
		c.CopiedLive++
	case Received:
		c.Received++
	case Mismatch:
		c.Mismatch++
	case Failed:
		c.Failed++
	case NotVerified:
		c.NotVerified++
	case NotStarted:
		c.NotStarted++
	}
	c.Files++
	c.Bytes += f.Size
}

// String lists every non-zero count, verified first.
func (c Counts) String() string {
	var out []string
	for _, p := range []struct {
		n    int
		what string
	}{{c.Verified, "verified"}, {c.CopiedLive, "copied live"}, {c.Received, "received (no host hash)"},
		{c.Mismatch, "MISMATCH"}, {c.Failed, "FAILED"}, {c.NotVerified, "NOT VERIFIED"}, {c.NotStarted, "NOT STARTED"},
		{c.Superseded, "superseded"}, {c.Skipped, "skipped"}, {c.NotCollected, "NOT COLLECTED"}} {
		if p.n > 0 {
			out = append(out, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(out) == 0 {
		return "no evidence file"
	}
	return strings.Join(out, ", ")
}

// CaseVerdict is the outcome of a whole case.
type CaseVerdict int

// Case verdicts, in increasing gravity. esxsink verify exits 0, 3 and 1.
const (
	// Complete: at least one evidence file, every one whole and intact,
	// every planned copy done, every run finished and the host left as
	// found.
	Complete CaseVerdict = iota
	// Incomplete: what is there is intact, but something meant to be
	// acquired is not (failed, partial, not started, nothing acquired, a
	// run cut off).
	Incomplete
	// IntegrityFailure: evidence changed, hashes disagree or the custody
	// log is damaged.
	IntegrityFailure
)

func (v CaseVerdict) String() string {
	switch v {
	case Complete:
		return "PASS"
	case Incomplete:
		return "INCOMPLETE"
	}
	return "FAIL"
}

// ExitCode is esxsink verify's exit status for v.
func (v CaseVerdict) ExitCode() int {
	switch v {
	case Complete:
		return 0
	case Incomplete:
		return 3
	}
	return 1
}

// Problem is one reason a case is not complete and intact.
type Problem struct {
	Integrity bool   `json:"integrity"`
	Line      int    `json:"line,omitempty"`
	What      string `json:"what"`
}

// RunState is one acquisition run as the records tell it.
type RunState struct {
	ID       string    `json:"run_id"`
	Host     string    `json:"host"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// Failed is set by run.failed: the run ended before or without copying.
	Failed bool   `json:"failed,omitempty"`
	Error  string `json:"error,omitempty"`
	Line   int    `json:"line"`
}

// Assessment is what a case's records say about each file and run.
type Assessment struct {
	// Files are the evidence files and planned copies, in log order.
	Files []FileState `json:"files"`
	// Checks are the files esxsink wrote itself to prove the mount; they
	// are not evidence.
	Checks   []FileState `json:"checks,omitempty"`
	Runs     []RunState  `json:"runs,omitempty"`
	Problems []Problem   `json:"problems,omitempty"`
	// Anomalies are things a court must hear that do not change a verdict.
	Anomalies []Problem `json:"anomalies,omitempty"`
	Counts    Counts    `json:"counts"`
}

// Verdict is the case's outcome: an integrity problem outweighs an
// incomplete one; an empty case is incomplete.
func (a *Assessment) Verdict() CaseVerdict {
	v := Complete
	for _, p := range a.Problems {
		if p.Integrity {
			return IntegrityFailure
		}
		v = Incomplete
	}
	return v
}

// AtRestCheck is one file's result from a re-hash at rest.
type AtRestCheck struct {
	Path    string
	Verdict AtRest
	Why     string
}

// Checked is a verification's results: the at-rest check of every file
// and the log's own failures; the chain held when there are none.
type Checked struct {
	Time  time.Time
	Files []AtRestCheck
	// ChainProblems are the log's own failures (a broken chain).
	ChainProblems []string
}

// Assess judges a case from its records alone. The last case.verified
// record applies to the files recorded before it, unless fresh is given:
// then fresh, a verification just made, applies to every file.
func Assess(recs []Record, fresh *Checked) *Assessment {
	j := newJudge()
	for _, rec := range recs {
		j.take(rec)
	}
	return j.finish(fresh)
}
