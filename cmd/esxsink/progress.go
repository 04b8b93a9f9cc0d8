package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/esxsink/esxsink/nfssink"
	"github.com/esxsink/esxsink/orchestrator"
)

// barDisplay draws, on a terminal, a bar for each file being copied and
// one for the whole plan. A file gets its bar when the copy starts (a file
// waiting for a free --parallel slot has none); when it ends, its bar turns
// into its one-line outcome and moves above the bars for good (mpb's pop
// mode), so a file that starts and ends between two redraws is only ever
// drawn as that line, and no finished file keeps a bar. Rates and ETAs
// are the tracker's, from the sink's counters, in the units of every
// other line.
type barDisplay struct {
	p     *mpb.Progress
	total *statusBar
	mu    sync.Mutex
	bars  map[string]*statusBar
	// resumedSet says the total bar no longer counts resumed files.
	resumedSet bool
}

// statusBar is a bar with what its decorators show, set by the display
// between redraws.
type statusBar struct {
	bar *mpb.Bar
	mu  sync.Mutex
	// rate (bytes/s) and eta (0: unknown) come from the last update;
	// done is the outcome line that replaces the bar when it completes.
	rate float64
	eta  time.Duration
	done string
}

func (b *statusBar) set(rate float64, eta time.Duration) {
	b.mu.Lock()
	b.rate, b.eta = rate, eta
	b.mu.Unlock()
}

// finish replaces the bar by line, which mpb then moves above the bars.
func (b *statusBar) finish(line string) {
	b.mu.Lock()
	b.done = line
	b.mu.Unlock()
	b.bar.SetTotal(-1, true)
}

func newBarDisplay(ctx context.Context, w io.Writer, total int64) *barDisplay {
	p := mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(250*time.Millisecond), mpb.PopCompletedMode())
	d := &barDisplay{p: p, bars: map[string]*statusBar{}}
	d.total = d.add("total", total, mpb.BarPriority(1<<30))
	return d
}

// add adds a bar named name of size bytes. Until it is finished its line
// is "name  received / size  [bar]  rate  ETA"; then it is its done line,
// with neither bar nor counters.
func (d *barDisplay) add(name string, size int64, opts ...mpb.BarOption) *statusBar {
	sb := &statusBar{}
	done := func() (string, bool) {
		sb.mu.Lock()
		defer sb.mu.Unlock()
		return sb.done, sb.done != ""
	}
	opts = append(opts, mpb.BarFillerClearOnComplete(),
		mpb.PrependDecorators(
			decor.Any(func(s decor.Statistics) string {
				if line, ok := done(); ok {
					return line
				}
				return name
			}, decor.WC{W: 28, C: decor.DindentRight}),
			decor.Any(func(s decor.Statistics) string {
				if _, ok := done(); ok {
					return ""
				}
				return humanBytes(s.Current) + " / " + humanBytes(s.Total)
			}, decor.WCSyncSpace)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			sb.mu.Lock()
			defer sb.mu.Unlock()
			if sb.done != "" {
				return ""
			}
			eta := "-"
			if sb.eta > 0 {
				eta = sb.eta.Round(time.Second).String()
			}
			return humanBytes(int64(sb.rate)) + "/s  ETA " + eta
		}, decor.WCSyncSpace)))
	sb.bar = d.p.AddBar(size, opts...)
	return sb
}

// Started adds the file's bar.
func (d *barDisplay) Started(ev orchestrator.Progress) {
	b := d.add(ev.Counter()+" "+shorten(ev.Item.Dest, 22), ev.Item.Size)
	d.mu.Lock()
	d.bars[ev.Item.Dest] = b
	d.mu.Unlock()
}

// Finished turns the file's bar into its outcome line; a file that never
// had a bar (resumed: verified by an earlier run) gets the line alone.
func (d *barDisplay) Finished(ev orchestrator.Progress) {
	d.mu.Lock()
	b := d.bars[ev.Item.Dest]
	delete(d.bars, ev.Item.Dest)
	d.mu.Unlock()
	if b == nil {
		b = d.add("", ev.Item.Size)
	}
	b.finish(fmt.Sprintf("%s %s  %s  %s  %s", ev.Counter(), ev.Result.Dest, humanBytes(ev.Result.Size), ev.Result.Duration.Round(time.Millisecond), orchestrator.FileState(*ev.Result)))
}

// Update moves the bars to what the sink has received, with the
// tracker's rates and ETAs.
func (d *barDisplay) Update(v orchestrator.ProgressView) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range v.Files {
		b := d.bars[f.Dest]
		if b == nil {
			continue
		}
		// A bar that reached its size would complete, and be taken for
		// finished, before the file's outcome is known.
		if f.Received < f.Size {
			b.bar.SetCurrent(f.Received)
		}
		b.set(f.RateBps, f.ETA)
	}
	// The total bar counts this run's copying: what an earlier run
	// verified is neither to do nor part of the rate and ETA.
	if v.Resumed > 0 && !d.resumedSet {
		d.total.bar.SetTotal(v.Total-v.Resumed, false)
		d.resumedSet = true
	}
	copied := v.All - v.Resumed
	if v.All < v.Total {
		d.total.bar.SetCurrent(copied)
	}
	var rate float64
	if s := v.Elapsed.Seconds(); s > 0 {
		rate = float64(copied) / s
	}
	d.total.set(rate, v.ETA)
}

// close ends the total bar on the run's totals and waits for the last
// draw.
func (d *barDisplay) close(v orchestrator.ProgressView) {
	copied := v.All - v.Resumed
	line := fmt.Sprintf("total: %s of %s copied in %s", humanBytes(copied), humanBytes(v.Total-v.Resumed), v.Elapsed.Round(time.Second))
	if v.Resumed > 0 {
		line += fmt.Sprintf(" (%s verified by an earlier run)", humanBytes(v.Resumed))
	}
	d.total.finish(line)
	d.p.Wait()
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	b := path.Base(s)
	if len(b) > n-1 {
		b = b[len(b)-(n-1):]
	}
	return "…" + b
}

// progressMode picks the display: JSON events for programs, bars on a
// terminal, plain lines otherwise.
type progressMode int

const (
	progressLines progressMode = iota
	progressBars
	progressJSON
	progressNone
)

func chooseProgress(jsonEvents, quiet bool, errOut io.Writer) progressMode {
	switch {
	case jsonEvents:
		return progressJSON
	case quiet:
		return progressNone
	}
	// Bars need a terminal that knows its width; without one (a new
	// pseudo-terminal, some Windows consoles) they would not be drawn.
	if f, ok := errOut.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return progressBars
		}
	}
	return progressLines
}

// startProgress runs the chosen display until the returned stop is
// called. JSON events go to out (stdout), bars and lines to errOut.
func startProgress(ctx context.Context, mode progressMode, out, errOut io.Writer, total int64, status func() nfssink.Status) (func(orchestrator.Progress), func()) {
	tr := &orchestrator.ProgressTracker{Status: status, Total: total}
	var closer func()
	switch mode {
	case progressNone:
		return nil, func() {}
	case progressJSON:
		tr.Display, tr.Interval = &orchestrator.JSONProgress{W: out}, 2*time.Second
	case progressBars:
		bd := newBarDisplay(ctx, errOut, total)
		tr.Display, tr.Interval = bd, 500*time.Millisecond
		closer = func() { bd.close(tr.View()) }
	default:
		tr.Display, tr.Interval = &orchestrator.LineProgress{W: errOut}, 10*time.Second
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr.Run(pctx)
	}()
	return tr.Event, func() {
		cancel()
		<-done
		if closer != nil {
			closer()
		}
	}
}
