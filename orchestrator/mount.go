package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/esxsink/esxsink/esxi"
)

// mount attaches the sink's export as NFS datastore label and checks that
// the host lists it as mounted.
func (c *collector) mount(ctx context.Context) error {
	// The host refuses a second label for a share it already mounts: say
	// which label holds it instead of failing on esxcfg-nas -a.
	if res, err := c.o.Runner.Run(ctx, esxi.CmdNASList()); err == nil && res.ExitStatus == 0 {
		if mounts, err := esxi.ParseNASList(string(res.Stdout)); err == nil {
			for _, m := range mounts {
				if m.Host == c.o.SinkHost && strings.TrimRight(m.Share, "/") == strings.TrimRight(c.o.Export, "/") {
					return c.fail(TypeCleanupFailed, fmt.Errorf("the host %s already mounts the sink %s:%s as datastore %q (status %q): a leftover of an earlier run? detach it with esxcfg-nas -d %s and run collect again",
						c.o.Host, m.Host, m.Share, m.Label, m.Status, esxi.Quote(m.Label)))
				}
			}
		}
	}
	cmd, err := esxi.CmdNASAdd(c.o.SinkHost, c.o.Export, c.label)
	if err != nil {
		return fmt.Errorf("build the mount command: %w", err)
	}
	res, err := c.o.Runner.Run(ctx, cmd)
	if err != nil {
		return c.fail(TypeCleanupFailed, fmt.Errorf("mount the sink %s:%s as %q on %s: %w", c.o.SinkHost, c.o.Export, c.label, c.o.Host, err))
	}
	out := string(res.Stdout) + string(res.Stderr)
	if cerr := esxi.CheckNASAdd(out, c.label); cerr != nil || res.ExitStatus != 0 {
		if cerr == nil {
			cerr = fmt.Errorf("exit status %d: %s", res.ExitStatus, clip(strings.TrimSpace(out)))
		}
		// A failed add may still have left a (dead) datastore behind.
		c.mounted = true
		return fmt.Errorf("the host %s refused to mount the sink %s:%s as %q: %w; check that the host can reach the workstation on TCP 111 and the NFS port, and the firewall", c.o.Host, c.o.SinkHost, c.o.Export, c.label, cerr)
	}
	c.mounted = true
	res, err = c.o.Runner.Run(ctx, esxi.CmdNASList())
	if err != nil {
		return fmt.Errorf("list NAS datastores on %s: %w", c.o.Host, err)
	}
	mounts, err := esxi.ParseNASList(string(res.Stdout))
	if err != nil {
		return fmt.Errorf("parse the NAS list of %s: %w", c.o.Host, err)
	}
	m, ok := esxi.FindNASMount(mounts, c.label)
	if !ok || !m.Mounted {
		return fmt.Errorf("the host %s does not list datastore %q as mounted after esxcfg-nas -a (status %q)", c.o.Host, c.label, m.Status)
	}
	c.record(TypeNASMounted, StepRecord{Label: c.label, Note: c.o.SinkHost + ":" + c.o.Export})
	return nil
}

// unmount detaches our datastore, retrying while the host says it is busy.
// It runs with a context that survives cancellation of the acquisition.
func (c *collector) unmount(ctx context.Context) error {
	if !c.mounted {
		return nil
	}
	cmd, err := esxi.CmdNASRemove(c.label)
	if err != nil {
		return err
	}
	delay := c.o.UnmountBackoff
	if delay <= 0 {
		delay = time.Second
	}
	var last error
	for attempt := 1; attempt <= 6; attempt++ {
		res, err := c.o.Runner.Run(ctx, cmd)
		if err != nil {
			last = err
			c.ensureConnected(ctx)
		} else {
			out := string(res.Stdout) + string(res.Stderr)
			last = esxi.CheckNASRemove(out, c.label)
			if last == nil && res.ExitStatus != 0 {
				last = fmt.Errorf("exit status %d: %s", res.ExitStatus, clip(strings.TrimSpace(out)))
			}
			if last == nil {
				c.mounted = false
				c.record(TypeNASUnmounted, StepRecord{Label: c.label, Attempt: attempt})
				return nil
			}
			if !errors.Is(last, esxi.ErrUnmountBusy) {
				// Gone already counts as detached.
				if lres, lerr := c.o.Runner.Run(ctx, esxi.CmdNASList()); lerr == nil {
					if mounts, perr := esxi.ParseNASList(string(lres.Stdout)); perr == nil {
						if _, ok := esxi.FindNASMount(mounts, c.label); !ok {
							c.mounted = false
							c.record(TypeNASUnmounted, StepRecord{Label: c.label, Attempt: attempt, Note: "not listed any more"})
							return nil
						}
					}
				}
			}
		}
		c.logger.Warn("unmount failed, retrying", "label", c.label, "attempt", attempt, "err", last)
		select {
		case <-ctx.Done():
			return c.fail(TypeCleanupFailed, fmt.Errorf("detach datastore %q from %s: %w (last error: %v); detach it by hand: esxcfg-nas -d %s", c.label, c.o.Host, ctx.Err(), last, esxi.Quote(c.label)))
		case <-time.After(delay):
		}
		delay *= 2
	}
	return c.fail(TypeCleanupFailed, fmt.Errorf("detach datastore %q from %s: %w; detach it by hand: esxcfg-nas -d %s", c.label, c.o.Host, last, esxi.Quote(c.label)))
}
