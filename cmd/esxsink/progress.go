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

// barDisplay draws a bar per file in flight and one for the whole plan on
// a terminal, with finished files printed above the bars.
type barDisplay struct {
	p     *mpb.Progress
	total *mpb.Bar
	mu    sync.Mutex
	bars  map[string]*mpb.Bar
	// resumedSet says the total bar no longer counts resumed files.
	resumedSet bool
}

func newBarDisplay(ctx context.Context, w io.Writer, total int64) *barDisplay {
	p := mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(250*time.Millisecond))
	d := &barDisplay{p: p, bars: map[string]*mpb.Bar{}}
	d.total = p.AddBar(total, mpb.BarPriority(1<<30),
		mpb.PrependDecorators(decor.Name("total ", decor.WC{W: 28, C: decor.DindentRight}), counters()),
		mpb.AppendDecorators(decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace), decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_GO)))
	return d
}

// Started adds the file's bar.
func (d *barDisplay) Started(ev orchestrator.Progress) {
	name := fmt.Sprintf("[%d/%d] %s", ev.Index, ev.Total, shorten(ev.Item.Dest, 22))
	b := d.p.AddBar(ev.Item.Size, mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Name(name, decor.WC{W: 28, C: decor.DindentRight}), counters()),
		mpb.AppendDecorators(decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace), decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_GO)))
	d.mu.Lock()
	d.bars[ev.Item.Dest] = b
	d.mu.Unlock()
}

// Finished removes the file's bar and prints its outcome above the bars.
func (d *barDisplay) Finished(ev orchestrator.Progress) {
	d.mu.Lock()
	b := d.bars[ev.Item.Dest]
	delete(d.bars, ev.Item.Dest)
	d.mu.Unlock()
	if b != nil {
		b.Abort(true)
	}
	fmt.Fprintf(d.p, "[%d/%d] %s  %s  %s  %s\n", ev.Index, ev.Total, ev.Result.Dest, humanBytes(ev.Result.Size), ev.Result.Duration.Round(time.Millisecond), orchestrator.FileState(*ev.Result))
}

// Update moves the bars to what the sink has received.
func (d *barDisplay) Update(v orchestrator.ProgressView) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range v.Files {
		if b := d.bars[f.Dest]; b != nil && f.Received < f.Size {
			b.SetCurrent(f.Received)
		}
	}
	// The total bar counts this run's copying: what an earlier run
	// verified is neither to do nor part of the rate and ETA.
	if v.Resumed > 0 && !d.resumedSet {
		d.total.SetTotal(v.Total-v.Resumed, false)
		d.resumedSet = true
	}
	if v.All < v.Total {
		d.total.SetCurrent(v.All - v.Resumed)
	}
}

// close completes the total bar and waits for the last draw.
func (d *barDisplay) close() {
	d.total.Abort(false)
	d.p.Wait()
}

// counters shows "received / size" in the units of every other line
// (humanBytes: "365 B", "1.5 GiB").
func counters() decor.Decorator {
	return decor.Any(func(s decor.Statistics) string {
		return humanBytes(s.Current) + " / " + humanBytes(s.Total)
	}, decor.WCSyncSpace)
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
		tr.Display, tr.Interval, closer = bd, 500*time.Millisecond, bd.close
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
