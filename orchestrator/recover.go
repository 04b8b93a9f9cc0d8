package orchestrator

import (
	"context"
	"errors"
	"fmt"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxi"
)

// maxRemounts bounds how often one run mounts a lost sink again: a sink
// that keeps going away is a problem for the examiner, not for retries.
const maxRemounts = 3

// mountGeneration is the number of the mount copies start on now.
func (c *collector) mountGeneration() int {
	c.sinkMu.Lock()
	defer c.sinkMu.Unlock()
	return c.mountGen
}

// notFrozen says why a frozen file cannot be copied: its VM's snapshot of
// ours vanished during the run ("" when it can).
func (c *collector) notFrozen(it PlanItem) string {
	if it.Method != MethodSnapshot || it.vm == nil {
		return ""
	}
	c.mu.Lock()
	s := c.vanished[it.vm]
	c.mu.Unlock()
	if s == nil {
		return ""
	}
	return fmt.Sprintf("our snapshot %q of VM %q vanished during the run (removed by someone else): its running disk cannot be copied as one moment's image", s.name, s.vm.Name)
}

// ErrSinkLost: the host lost the sink and the run could not have it
// back; what verified stays verified, and a resumed run copies the rest.
var ErrSinkLost = errors.New("the sink is lost")

// recoverSink runs after a copy failed: when the host has lost the sink
// (the datastore unavailable, or detached by someone else) it is detached
// and mounted again, once for every copy that failed on the same mount.
// again says the failed copy should be made again on the new mount; an
// error stops the run (the sink cannot be had back).
func (c *collector) recoverSink(ctx context.Context, gen int) (again bool, err error) {
	if !c.tr.canLoseSink() || ctx.Err() != nil {
		return false, nil
	}
	c.sinkMu.Lock()
	defer c.sinkMu.Unlock()
	if c.mountGen != gen {
		return true, nil // another copy found the loss and mounted again
	}
	m, listed, err := c.mountState(ctx)
	if err != nil || (listed && m.Mounted && m.Available) {
		return false, nil // the sink is there: the file failed by itself
	}
	if c.remounts >= maxRemounts {
		return false, fmt.Errorf("%w: the host %s lost the sink %s:%s again (datastore %q): it was mounted again %d times in this run; the run stops: check the workstation's network and the sink",
			ErrSinkLost, c.o.Host, c.o.SinkHost, c.o.Export, c.label, c.remounts)
	}
	c.remounts++
	if listed {
		c.record(custody.TypeAcquisitionNote, custody.Step{Label: c.label, Note: fmt.Sprintf(
			"the host lost the sink: datastore %q is %q; it is detached and mounted again, and the copies that failed on it are made again", c.label, m.Status)})
		if err := c.unmount(ctx); err != nil {
			return false, fmt.Errorf("the host %s lost the sink (datastore %q) and could not detach it: %w; the run stops", c.o.Host, c.label, err)
		}
	} else {
		c.record(custody.TypeAnomaly, custody.Step{Label: c.label, Note: fmt.Sprintf(
			"our datastore %q was detached by someone else while the run worked: it is mounted again, and the copies that failed on it are made again", c.label)})
		c.mounted = false
	}
	c.mountGen++
	if err := c.mount(ctx); err != nil {
		return false, fmt.Errorf("%w: the host %s lost the sink %s:%s and could not mount it again: %w; the run stops: check the workstation's network and that the sink runs",
			ErrSinkLost, c.o.Host, c.o.SinkHost, c.o.Export, err)
	}
	c.record(custody.TypeAcquisitionNote, custody.Step{Label: c.label, Note: "the sink is mounted again after it was lost"})
	return true, nil
}

// mountState is our datastore as the host lists it now.
func (c *collector) mountState(ctx context.Context) (esxi.NASMount, bool, error) {
	res, err := c.query(ctx, c.nas.CmdList())
	if err != nil {
		return esxi.NASMount{}, false, err
	}
	if res.ExitStatus != 0 {
		return esxi.NASMount{}, false, fmt.Errorf("list NAS datastores on %s: exit status %d", c.o.Host, res.ExitStatus)
	}
	mounts, err := c.nas.ParseList(string(res.Stdout))
	if err != nil {
		return esxi.NASMount{}, false, err
	}
	m, ok := esxi.FindNASMount(mounts, c.label)
	return m, ok, nil
}
