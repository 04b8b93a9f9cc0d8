package orchestrator

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/esxsink/esxsink/nfssink"
)

// LineProgress prints plain progress lines for a terminal or a log: one
// line per finished file, and every Interval the bytes the sink has
// received of the file being copied, with rate and ETA of the whole plan.
// The numbers come from the sink's counters, not from the host.
type LineProgress struct {
	W        io.Writer
	Status   func() nfssink.Status
	Interval time.Duration
	// Total is the plan's byte count.
	Total int64

	mu      sync.Mutex
	done    int64 // bytes of finished files
	current *Progress
	start   time.Time
}

// Event is a CollectOptions.Progress callback.
func (p *LineProgress) Event(ev Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.start.IsZero() {
		p.start = time.Now()
	}
	if !ev.Done {
		p.current = &ev
		return
	}
	p.current = nil
	p.done += ev.Item.Size
	state := "verified"
	if !ev.Result.Verified {
		state = "FAILED: " + ev.Result.Error
	}
	fmt.Fprintf(p.W, "[%d/%d] %s  %d bytes  %s  %s\n", ev.Index, ev.Total, ev.Result.Dest, ev.Result.Size, ev.Result.Duration.Round(time.Millisecond), state)
}

// Run prints the sink's counters until ctx ends.
func (p *LineProgress) Run(ctx context.Context) {
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
			p.tick()
		}
	}
}

func (p *LineProgress) tick() {
	p.mu.Lock()
	cur, done, start := p.current, p.done, p.start
	p.mu.Unlock()
	if cur == nil || p.Status == nil {
		return
	}
	st := p.Status()
	for _, f := range st.Receiving {
		if f.Path != cur.Item.Dest {
			continue
		}
		all := done + f.Received
		line := fmt.Sprintf("  %s: %d of %d bytes, %.1f MiB/s", f.Path, f.Received, cur.Item.Size, f.RateBps/(1<<20))
		if el := time.Since(start).Seconds(); el > 0 && all > 0 && p.Total > all {
			eta := time.Duration(float64(p.Total-all) / (float64(all) / el) * float64(time.Second))
			line += fmt.Sprintf("; total %d of %d bytes, ETA %s", all, p.Total, eta.Round(time.Second))
		}
		fmt.Fprintln(p.W, line)
	}
}
