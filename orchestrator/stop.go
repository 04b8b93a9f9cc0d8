package orchestrator

import (
	"context"
	"time"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/esxi"
)

// stopFile is the host path whose existence ends this run's copies
// (esxi.CopyOptions.StopFile); /tmp is the host's ramdisk, not a datastore.
func (c *collector) stopFile() string { return "/tmp/esxsink-" + c.o.RunID + ".stop" }

// stopCopies ends copies still reading on the host after we gave up on
// them (Ctrl-C, a lost connection): each ends within one run of
// esxi.StopChunk bytes, which frees our mount for the unmount. The
// commands are recorded like every other.
func (c *collector) stopCopies(ctx context.Context) {
	cmd, err := esxi.CmdStopCopies(c.stopFile())
	if err != nil {
		return
	}
	if res, err := c.o.Runner.Run(ctx, cmd); err != nil || res.ExitStatus != 0 {
		c.logger.Warn("could not stop the copies on the host", "err", err)
		return
	}
	c.record(custody.TypeAcquisitionNote, custody.Step{Note: "asked the copies still running on the host to stop (" + c.stopFile() + ")"})
	// The copies notice the stop file between runs of dd.
	select {
	case <-ctx.Done():
	case <-time.After(c.backoff()):
	}
}

// clearStop removes the stop file again, so the host is left as found.
func (c *collector) clearStop(ctx context.Context) {
	if cmd, err := esxi.CmdClearStop(c.stopFile()); err == nil {
		_, _ = c.o.Runner.Run(context.WithoutCancel(ctx), cmd)
	}
}

// backoff is the first wait for the host to let go of our mount: before
// retrying a busy unmount, and after asking copies to stop.
func (c *collector) backoff() time.Duration {
	if c.o.UnmountBackoff > 0 {
		return c.o.UnmountBackoff
	}
	return time.Second
}
