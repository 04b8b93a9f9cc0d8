package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/esxsink/esxsink/internal/units"
	"github.com/esxsink/esxsink/nfssink"
)

// ProgressDisplay shows a collect run: the tracker calls it as files start
// and finish and, every interval, with the bytes received so far.
type ProgressDisplay interface {
	Started(ev Progress)
	Finished(ev Progress)
	Update(v ProgressView)
}

// FileView is one file in flight.
type FileView struct {
	Dest     string `json:"dest"`
	Host     string `json:"host,omitempty"`
	Index    int    `json:"index"`
	Total    int    `json:"total"`
	Size     int64  `json:"size"`
	Received int64  `json:"received"`
	// RateBps is the file's average rate since its copy started, and
	// ETA (0 while unknown) what is left at that rate: reckoned as the
	// run's total is, so that the two agree.
	RateBps float64       `json:"rate_bytes_per_second"`
	ETA     time.Duration `json:"eta_ns,omitempty"`
	started time.Time
}

// ProgressView is the run's state at one moment.
type ProgressView struct {
	Files []FileView `json:"files"`
	// Done is the bytes of finished files; All adds what the sink has
	// received of the files in flight.
	Done  int64 `json:"done_bytes"`
	All   int64 `json:"bytes"`
	Total int64 `json:"total_bytes"`
	// Resumed is the part of Done an earlier run verified (--resume).
	Resumed int64         `json:"resumed_bytes,omitempty"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// ETA is 0 while the rate is unknown.
	ETA time.Duration `json:"eta_ns"`
}

// ProgressTracker follows a collect run for a display. Which files are in
// flight comes from CollectOptions.Progress events; how far each is comes
// from the sink's counters, not from the host, so it counts bytes that
// really arrived.
type ProgressTracker struct {
	Status   func() nfssink.Status
	Total    int64
	Display  ProgressDisplay
	Interval time.Duration

	mu       sync.Mutex
	start    time.Time
	done     int64
	resumed  int64               // bytes verified by an earlier run: done, but not copied now
	inFlight map[string]Progress // by planned dest
	// seen is what the sink last reported received for a file in
	// flight: once its copy is written the sink stops listing it while
	// it re-reads it at rest, and the file has not gone back to zero.
	seen map[string]int64
}

// Event is a CollectOptions.Progress callback; it is safe for parallel
// copies.
func (p *ProgressTracker) Event(ev Progress) {
	p.mu.Lock()
	if p.start.IsZero() {
		p.start = time.Now()
	}
	if p.inFlight == nil {
		p.inFlight = map[string]Progress{}
	}
	if ev.Done {
		delete(p.inFlight, ev.Item.Dest)
		delete(p.seen, ev.Item.Dest)
		if ev.Result != nil {
			p.done += ev.Result.Size
			if ev.Result.Resumed {
				p.resumed += ev.Result.Size
			}
		}
	} else {
		p.inFlight[ev.Item.Dest] = ev
	}
	p.mu.Unlock()
	if p.Display == nil {
		return
	}
	if ev.Done {
		p.Display.Finished(ev)
	} else {
		p.Display.Started(ev)
	}
}

// View reads the sink's counters for the files in flight.
func (p *ProgressTracker) View() ProgressView {
	p.mu.Lock()
	v := ProgressView{Done: p.done, Total: p.Total, Resumed: p.resumed}
	resumed := p.resumed
	if !p.start.IsZero() {
		v.Elapsed = time.Since(p.start)
	}
	for _, ev := range p.inFlight {
		v.Files = append(v.Files, FileView{Dest: ev.Item.Dest, Host: ev.Host, Index: ev.Index, Total: ev.Total, Size: ev.Item.Size, started: ev.Started})
	}
	p.mu.Unlock()
	sort.Slice(v.Files, func(a, b int) bool { return v.Files[a].Index < v.Files[b].Index })
	var st nfssink.Status
	if p.Status != nil && len(v.Files) > 0 {
		st = p.Status()
	}
	v.All = v.Done
	p.mu.Lock()
	if p.seen == nil {
		p.seen = map[string]int64{}
	}
	for i := range v.Files {
		f := &v.Files[i]
		listed := false
		for _, r := range st.Receiving {
			// A retry goes to dest.attemptN.
			if r.Path == f.Dest || strings.HasPrefix(r.Path, f.Dest+".attempt") {
				f.Received, listed = r.Received, true
			}
		}
		if _, inFlight := p.inFlight[f.Dest]; listed && inFlight {
			p.seen[f.Dest] = f.Received
		} else if !listed {
			f.Received = p.seen[f.Dest]
		}
		if s := time.Since(f.started).Seconds(); !f.started.IsZero() && s > 0 && f.Received > 0 {
			f.RateBps = float64(f.Received) / s
			if f.Size > f.Received {
				f.ETA = time.Duration(float64(f.Size-f.Received) / f.RateBps * float64(time.Second))
			}
		}
		v.All += f.Received
	}
	p.mu.Unlock()
	// The rate is this run's copying: bytes an earlier run verified are
	// done, but were not copied in the elapsed time.
	if s, copied := v.Elapsed.Seconds(), v.All-resumed; s > 0 && copied > 0 && v.Total > v.All {
		v.ETA = time.Duration(float64(v.Total-v.All) / (float64(copied) / s) * float64(time.Second))
	}
	return v
}

// Run updates the display every Interval until ctx ends.
func (p *ProgressTracker) Run(ctx context.Context) {
	iv := p.Interval
	if iv <= 0 {
		iv = 5 * time.Second
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if p.Display != nil {
				p.Display.Update(p.View())
			}
		}
	}
}

// LineProgress prints plain lines, for a log or a terminal that is not
// one: a line per finished file, and per update a line per file in flight.
type LineProgress struct {
	W  io.Writer
	mu sync.Mutex
}

// Started prints nothing: the updates show files in flight.
func (p *LineProgress) Started(Progress) {}

// Finished prints the file's outcome.
func (p *LineProgress) Finished(ev Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.W, "%s %s  %s  %s  %s\n", ev.Counter(), ev.Result.Dest, units.HumanBytes(ev.Result.Size), ev.Result.Duration.Round(time.Millisecond), FileState(*ev.Result))
}

// Update prints the files in flight with the run's total and ETA.
func (p *LineProgress) Update(v ProgressView) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range v.Files {
		line := fmt.Sprintf("  %s%s: %s of %s, %s/s", hostPrefix(f.Host), f.Dest, units.HumanBytes(f.Received), units.HumanBytes(f.Size), units.HumanBytes(int64(f.RateBps)))
		if v.ETA > 0 {
			line += fmt.Sprintf("; total %s of %s, ETA %s", units.HumanBytes(v.All), units.HumanBytes(v.Total), v.ETA.Round(time.Second))
		}
		fmt.Fprintln(p.W, line)
	}
}

// hostPrefix is "esx01 " in a fleet run, "" for one host.
func hostPrefix(host string) string {
	if host == "" {
		return ""
	}
	return host + " "
}

// JSONProgress writes one JSON object per line for programs driving
// esxsink (--json-events): file.started, file.finished and progress.
type JSONProgress struct {
	W  io.Writer
	mu sync.Mutex
}

// JSONEvent is one line of --json-events.
type JSONEvent struct {
	Event    string        `json:"event"`
	Time     time.Time     `json:"time"`
	Host     string        `json:"host,omitempty"`
	Index    int           `json:"index,omitempty"`
	Total    int           `json:"total,omitempty"`
	Source   string        `json:"source,omitempty"`
	Dest     string        `json:"dest,omitempty"`
	Size     int64         `json:"size,omitempty"`
	Result   *FileOutcome  `json:"result,omitempty"`
	Progress *ProgressView `json:"progress,omitempty"`
	// Report, Case and Error end the stream (run.finished).
	Report *Outcome `json:"report,omitempty"`
	Case   string   `json:"case,omitempty"`
	Error  string   `json:"error,omitempty"`
}

func (p *JSONProgress) write(ev JSONEvent) {
	ev.Time = time.Now().UTC()
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = p.W.Write(append(b, '\n'))
}

// Started writes a file.started event.
func (p *JSONProgress) Started(ev Progress) {
	p.write(JSONEvent{Event: "file.started", Host: ev.Host, Index: ev.Index, Total: ev.Total, Source: ev.Item.Source, Dest: ev.Item.Dest, Size: ev.Item.Size})
}

// Finished writes a file.finished event with the file's result.
func (p *JSONProgress) Finished(ev Progress) {
	p.write(JSONEvent{Event: "file.finished", Host: ev.Host, Index: ev.Index, Total: ev.Total, Source: ev.Item.Source, Dest: ev.Item.Dest, Size: ev.Item.Size, Result: ev.Result})
}

// Update writes a progress event.
func (p *JSONProgress) Update(v ProgressView) {
	p.write(JSONEvent{Event: "progress", Progress: &v})
}

// FileState is a finished file's state in the words of the progress
// lines: verified, resumed, copied live (with why), NOT STARTED or FAILED
// (with why).
func FileState(f FileOutcome) string {
	switch {
	case f.Resumed:
		return "verified by an earlier run (--resume)"
	case f.CopiedLive:
		return "copied live, not verified: " + f.LiveReason
	case f.NotStarted:
		return "NOT STARTED: " + f.Error
	case !f.Verified:
		return "FAILED: " + f.Error
	}
	return "verified"
}
