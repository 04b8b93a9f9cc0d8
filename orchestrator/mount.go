package orchestrator

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/esxi"
)

// mount attaches the sink's export as NFS datastore label and checks that
// the host lists it as mounted.
func (c *collector) mount(ctx context.Context) error {
	if c.nas == "" {
		c.nas = esxi.NASEsxcfg
	}
	// The host refuses a second label for a share it already mounts: say
	// which label holds it instead of failing on esxcfg-nas -a.
	if res, err := c.o.Runner.Run(ctx, c.nas.CmdList()); err == nil && res.ExitStatus == 0 {
		if mounts, err := c.nas.ParseList(string(res.Stdout)); err == nil {
			for _, m := range mounts {
				if m.Host == c.o.SinkHost && strings.TrimRight(m.Share, "/") == strings.TrimRight(c.o.Export, "/") {
					return c.fail(custody.TypeCleanupFailed, fmt.Errorf("the host %s already mounts the sink %s:%s as datastore %q (status %q): a leftover of an earlier run? detach it with esxcfg-nas -d %s and run collect again",
						c.o.Host, m.Host, m.Share, m.Label, m.Status, esxi.Quote(m.Label)))
				}
			}
		}
	}
	cmd, err := c.nas.CmdAdd(c.o.SinkHost, c.o.Export, c.label)
	if err != nil {
		return fmt.Errorf("build the mount command: %w", err)
	}
	res, err := c.o.Runner.Run(ctx, cmd)
	if err != nil {
		return c.fail(custody.TypeCleanupFailed, fmt.Errorf("mount the sink %s:%s as %q on %s: %w", c.o.SinkHost, c.o.Export, c.label, c.o.Host, err))
	}
	out := string(res.Stdout) + string(res.Stderr)
	if cerr := c.nas.CheckAdd(out, c.label); cerr != nil || res.ExitStatus != 0 {
		if cerr == nil {
			cerr = fmt.Errorf("exit status %d: %s", res.ExitStatus, clip(strings.TrimSpace(out)))
		}
		// A failed add may still have left a (dead) datastore behind.
		c.mounted = true
		return fmt.Errorf("the host %s refused to mount the sink %s:%s as %q: %w; check that the host can reach the workstation on TCP 111 and the NFS port, and the firewall", c.o.Host, c.o.SinkHost, c.o.Export, c.label, cerr)
	}
	c.mounted = true
	res, err = c.o.Runner.Run(ctx, c.nas.CmdList())
	if err != nil {
		return fmt.Errorf("list NAS datastores on %s: %w", c.o.Host, err)
	}
	mounts, err := c.nas.ParseList(string(res.Stdout))
	if err != nil {
		return fmt.Errorf("parse the NAS list of %s: %w", c.o.Host, err)
	}
	m, ok := esxi.FindNASMount(mounts, c.label)
	if !ok || !m.Mounted {
		return fmt.Errorf("the host %s does not list datastore %q as mounted after esxcfg-nas -a (status %q)", c.o.Host, c.label, m.Status)
	}
	c.record(custody.TypeNASMounted, custody.Step{Label: c.label, Note: c.o.SinkHost + ":" + c.o.Export + " with " + string(c.nas)})
	return c.checkWritable(ctx)
}

// checkWritable proves the whole path before the first copy: the host
// writes a line onto the fresh mount and the sink's hash of what arrived
// must be the hash of that line. A read-only export still mounts (ESXi
// does not say), and a sink that drops data would otherwise only show at
// the first disk's verification.
func (c *collector) checkWritable(ctx context.Context) error {
	rel := "esxsink-mount-check-" + c.o.RunID + ".txt"
	if c.mountGen > 0 {
		// The sink keeps the first check file as it was received.
		rel = fmt.Sprintf("esxsink-mount-check-%s-%d.txt", c.o.RunID, c.mountGen+1)
	}
	text := "esxsink mount check, run " + c.o.RunID + ", host " + c.o.Host
	cmd, err := esxi.CmdWriteText(esxi.VolumePath(c.label, rel), text)
	if err != nil {
		return err
	}
	res, err := c.o.Runner.Run(ctx, cmd)
	if err != nil {
		return fmt.Errorf("write a check file onto the mounted sink on %s: %w", c.o.Host, err)
	}
	if res.ExitStatus != 0 {
		return c.fail(custody.TypeAcquisitionNote, fmt.Errorf("the host %s mounted the sink as %q but cannot write to it (exit status %d: %s): check that the sink allows this host and has free space",
			c.o.Host, c.label, res.ExitStatus, clip(strings.TrimSpace(string(res.Stderr)))))
	}
	fin, err := c.o.Sink.Finalize(ctx, rel, "mount check", int64(len(text)+1), false)
	if err != nil {
		return fmt.Errorf("the host %s wrote a check file onto the sink, but the sink cannot finalize it: %w", c.o.Host, err)
	}
	sum := md5.Sum([]byte(text + "\n"))
	if want := hex.EncodeToString(sum[:]); fin.Hashes[string(esxi.MD5)] != want {
		return c.fail(custody.TypeAcquisitionNote, fmt.Errorf("the check file the host %s wrote arrived changed on the sink (md5 %s, want %s): do not trust this path; check the network and the sink",
			c.o.Host, fin.Hashes[string(esxi.MD5)], want))
	}
	c.record(custody.TypeMountChecked, custody.Step{Label: c.label, Dest: rel, Note: "the host wrote a check line onto the mount and the sink received it intact"})
	return nil
}

// unmount detaches our datastore, retrying while the host says it is busy.
// It runs with a context that survives cancellation of the acquisition.
func (c *collector) unmount(ctx context.Context) error {
	if !c.mounted {
		return nil
	}
	if c.nas == "" {
		c.nas = esxi.NASEsxcfg
	}
	cmd, err := c.nas.CmdRemove(c.label)
	if err != nil {
		return err
	}
	// A copy we stopped frees the mount within one bounded run of dd;
	// on slow storage that takes a while, so the tries go on for about a
	// minute and a half (at 1 s first wait) before giving up.
	delay := c.backoff()
	var last error
	for attempt := 1; attempt <= 10; attempt++ {
		res, err := c.o.Runner.Run(ctx, cmd)
		if err != nil {
			last = err
			c.ensureConnected(ctx)
		} else {
			out := string(res.Stdout) + string(res.Stderr)
			last = c.nas.CheckRemove(out, c.label)
			if last == nil && res.ExitStatus != 0 {
				last = fmt.Errorf("exit status %d: %s", res.ExitStatus, clip(strings.TrimSpace(out)))
			}
			if last == nil {
				c.mounted = false
				c.record(custody.TypeNASUnmounted, custody.Step{Label: c.label, Attempt: attempt})
				c.undone(fmt.Sprintf("datastore %q detached", c.label))
				return nil
			}
			if !errors.Is(last, esxi.ErrUnmountBusy) {
				// Gone already counts as detached.
				if lres, lerr := c.o.Runner.Run(ctx, c.nas.CmdList()); lerr == nil {
					if mounts, perr := c.nas.ParseList(string(lres.Stdout)); perr == nil {
						if _, ok := esxi.FindNASMount(mounts, c.label); !ok {
							c.mounted = false
							c.record(custody.TypeNASUnmounted, custody.Step{Label: c.label, Attempt: attempt, Note: "not listed any more"})
							return nil
						}
					}
				}
			}
		}
		c.logger.Warn("unmount failed, retrying", "label", c.label, "attempt", attempt, "err", last)
		select {
		case <-ctx.Done():
			return c.fail(custody.TypeCleanupFailed, fmt.Errorf("detach datastore %q from %s: %w (last error: %v); detach it by hand: esxcfg-nas -d %s", c.label, c.o.Host, ctx.Err(), last, esxi.Quote(c.label)))
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*c.backoff())
	}
	return c.fail(custody.TypeCleanupFailed, fmt.Errorf("detach datastore %q from %s: %w; detach it by hand: esxcfg-nas -d %s", c.label, c.o.Host, last, esxi.Quote(c.label)))
}
