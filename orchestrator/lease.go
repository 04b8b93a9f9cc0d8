package orchestrator

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxi"
)

// DefaultLeaseInterval is how often a run refreshes its lease's heartbeat.
const DefaultLeaseInterval = 30 * time.Second

// lease is the run's proof of ownership on the host (esxi.Lease): written
// before anything of ours exists there, refreshed while the run works,
// removed last.
type lease struct {
	mu      sync.Mutex
	written bool
	stop    context.CancelFunc
	done    chan struct{}
}

func (c *collector) leaseData() esxi.Lease {
	return esxi.Lease{RunID: c.o.RunID, Workstation: oneLine(c.o.Workstation), Case: oneLine(c.o.CaseID), PID: os.Getpid()}
}

func (c *collector) leaseRecord(note string) custody.Lease {
	l := c.leaseData()
	return custody.Lease{Host: c.o.Host, RunID: l.RunID, Path: esxi.LeasePath(l.RunID), Workstation: l.Workstation, Case: l.Case, PID: l.PID, Note: note}
}

// takeLease writes the lease and starts its heartbeat. Without a lease
// the run does not start: cleanup could not tell it from a dead run.
func (c *collector) takeLease(ctx context.Context) error {
	cmd, err := esxi.CmdWriteLease(c.leaseData())
	if err != nil {
		return fmt.Errorf("build the lease for run %s: %w", c.o.RunID, err)
	}
	// Marked before the command runs: a command cut off by a cancellation
	// may still have written the file, and cleanup must then remove it
	// (removing our own run's lease path when it is absent is harmless).
	c.lease.mu.Lock()
	c.lease.written = true
	c.lease.mu.Unlock()
	res, err := c.o.Runner.Run(ctx, cmd)
	if err == nil && res.ExitStatus != 0 {
		err = fmt.Errorf("exit status %d: %s", res.ExitStatus, clip(strings.TrimSpace(string(res.Stderr))))
	}
	if err != nil {
		return c.fail(custody.TypeAcquisitionNote, fmt.Errorf("write our lease %s on %s: %w; without it esxsink cleanup could not tell this run from a dead one, so nothing is changed on the host", esxi.LeasePath(c.o.RunID), c.o.Host, err))
	}
	c.recordLease(custody.TypeLeaseCreated, c.leaseRecord(fmt.Sprintf("refreshed every %s while the run works", c.leaseInterval())))
	hctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	c.lease.stop, c.lease.done = stop, make(chan struct{})
	go c.heartbeat(hctx)
	return nil
}

func (c *collector) leaseInterval() time.Duration {
	if c.o.LeaseInterval > 0 {
		return c.o.LeaseInterval
	}
	return DefaultLeaseInterval
}

// heartbeat refreshes the lease until ctx ends and watches, on the way,
// what only this run may change: its lease and its stop file.
func (c *collector) heartbeat(ctx context.Context) {
	defer close(c.lease.done)
	t := time.NewTicker(c.leaseInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.beat(ctx)
	}
}

// beat is one heartbeat.
func (c *collector) beat(ctx context.Context) {
	cmd, err := esxi.CmdLeaseHeartbeat(c.leaseData(), c.stopFile())
	if err != nil {
		return
	}
	res, err := c.o.Runner.Run(ctx, cmd)
	if err != nil || res.ExitStatus != 0 {
		c.logger.Warn("lease heartbeat failed", "err", err)
		return
	}
	hb, err := esxi.ParseLeaseHeartbeat(string(res.Stdout))
	if err != nil {
		c.logger.Warn("lease heartbeat output", "err", err)
		return
	}
	if !hb.WasThere {
		c.record(custody.TypeAnomaly, custody.Step{Note: fmt.Sprintf("our lease %s was removed by someone else while the run worked (esxsink cleanup --force?); it is written again", esxi.LeasePath(c.o.RunID))})
	}
	if hb.Stop {
		// Someone asked our copies to stop: the copies in flight end
		// early and fail (and are copied again); the stop file goes, so
		// that the next copies are not stopped too.
		c.record(custody.TypeAnomaly, custody.Step{Note: fmt.Sprintf("our stop file %s was created by someone else while the run worked: the copies in flight were stopped and are retried", c.stopFile())})
		c.clearStop(ctx)
	}
	if hb.Written {
		c.recordLease(custody.TypeLeaseRefreshed, c.leaseRecord(""))
	}
}

// releaseLease stops the heartbeat and removes the lease: the last thing
// a run does on the host.
func (c *collector) releaseLease(ctx context.Context) {
	c.lease.mu.Lock()
	written := c.lease.written
	c.lease.mu.Unlock()
	if !written {
		return
	}
	if c.lease.stop != nil {
		c.lease.stop()
		<-c.lease.done
	}
	cmd, err := esxi.CmdRemoveLease(c.o.RunID)
	if err != nil {
		return
	}
	res, err := c.o.Runner.Run(ctx, cmd)
	if err == nil && res.ExitStatus != 0 {
		err = fmt.Errorf("exit status %d: %s", res.ExitStatus, clip(strings.TrimSpace(string(res.Stderr))))
	}
	if err != nil {
		c.report.Cleanup = append(c.report.Cleanup, c.fail(custody.TypeCleanupFailed, fmt.Errorf("remove our lease %s on %s: %w; remove it by hand: rm %s",
			esxi.LeasePath(c.o.RunID), c.o.Host, err, esxi.Quote(esxi.LeasePath(c.o.RunID)))).Error())
		return
	}
	c.lease.mu.Lock()
	c.lease.written = false
	c.lease.mu.Unlock()
	c.recordLease(custody.TypeLeaseReleased, c.leaseRecord("the run ended"))
	c.undone("lease " + esxi.LeasePath(c.o.RunID) + " removed")
}

func (c *collector) recordLease(typ string, l custody.Lease) { c.appendRecord(typ, l) }

// oneLine keeps a value for the lease on one line of printable text.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
