package orchestrator

import (
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"sync"

	"github.com/esxsink/esxsink/custody"
)

// job is a planned copy with its 1-based place in the plan.
type job struct {
	item PlanItem
	idx  int
}

// run mounts the sink and copies the plan, up to o.Parallel files at once.
// Each VM goes through its phases in order — configuration and logs, our
// snapshot, the frozen disks, the snapshot's removal — and VMs proceed
// side by side, so a VM waits in its snapshot only while its own disks
// copy. A fatal error (cancellation, a lost connection) stops new copies;
// the files not started are reported as not copied.
func (c *collector) run(ctx context.Context, plan *Plan) error {
	if ctx.Err() != nil {
		// Stopped before it began (a custody log that cannot be
		// written, a Ctrl-C): nothing is done on the host.
		return context.Cause(ctx)
	}
	copies := plan.Copies()
	made := map[string]bool{}
	for _, it := range copies {
		dir := path.Dir(it.Dest)
		if dir == "." || made[dir] {
			continue
		}
		made[dir] = true
		if err := c.o.Sink.MakeDir(dir); err != nil {
			return fmt.Errorf("create the evidence folder for %s: %w", it.Dest, err)
		}
	}
	if err := c.takeLease(ctx); err != nil {
		return err
	}
	if err := c.probeHost(ctx); err != nil {
		return err
	}
	if err := c.tr.attach(ctx, c); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	total := len(copies)
	byVM := map[*VM][]job{}
	var loose []job
	for i, it := range copies {
		j := job{item: it, idx: i + 1}
		if v, ok := c.o.Resume[it.Source]; ok && v.Size == it.Size && !it.Live && c.stillInEvidence(ctx, v) {
			fr := FileOutcome{Item: it, Dest: v.Dest, Size: v.Size, SinkHashes: v.Hashes, Verified: true, Resumed: true}
			c.addResult(fr)
			c.record(custody.TypeFileSkipped, custody.Step{VMID: it.VMID, VM: it.VMName, Source: it.Source, Dest: v.Dest, Size: v.Size, Note: "verified by an earlier run of this case (--resume)"})
			if c.o.Progress != nil {
				// Counted as done, so the totals and ETA are this run's.
				c.o.Progress(Progress{Item: it, Index: i + 1, Total: len(copies), Done: true, Result: &fr})
			}
			continue
		}
		if it.vm == nil {
			loose = append(loose, j)
			continue
		}
		byVM[it.vm] = append(byVM[it.vm], j)
	}
	var (
		wg     sync.WaitGroup
		errMu  sync.Mutex
		first  error
		vmSlot = make(chan struct{}, c.o.Parallel)
	)
	fatal := func(err error) {
		errMu.Lock()
		if first == nil {
			first = err
		}
		errMu.Unlock()
		cancel(err)
	}
	for _, vm := range plan.VMs {
		jobs := byVM[vm]
		if len(jobs) == 0 {
			continue
		}
		select {
		case vmSlot <- struct{}{}:
		case <-ctx.Done():
			c.notStarted(jobs, context.Cause(ctx))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-vmSlot }()
			if err := c.collectVM(ctx, vm, jobs, total); err != nil {
				fatal(err)
			}
		}()
	}
	wg.Wait()
	if err := c.copyAll(ctx, loose, total); err != nil {
		fatal(err)
	}
	// Collect's accountForAll puts the results in plan order once every
	// planned copy has one.
	return first
}

// collectVM copies one VM's files: what our snapshot would change first,
// then the disks under our snapshot, which it removes afterwards.
func (c *collector) collectVM(ctx context.Context, vm *VM, jobs []job, total int) error {
	var direct, frozen []job
	for _, j := range jobs {
		if j.item.Method == MethodSnapshot {
			frozen = append(frozen, j)
		} else {
			direct = append(direct, j)
		}
	}
	// Our snapshot rewrites the .vmx and .vmsd: they are collected as the
	// owner left them, before it is taken.
	if err := c.copyAll(ctx, direct, total); err != nil {
		c.notStarted(frozen, err)
		return err
	}
	if len(frozen) == 0 {
		return nil
	}
	snap, err := c.snapshotAttempts(ctx, vm)
	if err != nil {
		c.record(custody.TypeAcquisitionNote, custody.Step{VMID: vm.ID, VM: vm.Name, Error: err.Error(),
			Note: fmt.Sprintf("our snapshot of VM %q could not be taken: its %d disk file(s) are not copied", vm.Name, len(frozen))})
		c.logger.Error(err.Error())
		c.notStarted(frozen, err)
		if ctx.Err() != nil {
			return err
		}
		return nil
	}
	if c.o.Memory {
		mem, err := c.memoryJobs(ctx, vm, frozen[0].item, total)
		if err != nil {
			c.fail(custody.TypeAcquisitionNote, err)
		}
		frozen = append(frozen, mem...)
	}
	if err := c.copyAll(ctx, frozen, total); err != nil {
		// The run stops: cleanup stops the copies still reading on the
		// host before it removes our snapshot under them.
		return err
	}
	if c.notFrozen(frozen[0].item) != "" {
		return nil // gone already, and recorded so
	}
	if err := c.removeSnapshot(context.WithoutCancel(ctx), snap); err != nil {
		// Not a reason to leave the other VMs: the run's cleanup tries
		// again at its end and records what it cannot undo.
		c.record(custody.TypeAcquisitionNote, custody.Step{VMID: vm.ID, VM: vm.Name, Snapshot: snap.name, SnapID: snap.id, Error: err.Error(),
			Note: "our snapshot could not be removed yet: tried again when the run ends"})
		c.logger.Warn(err.Error())
	}
	return nil
}

// copyAll copies jobs through the shared copy slots and waits for them.
// It returns the first fatal error; jobs not started by then are reported
// as not copied.
func (c *collector) copyAll(ctx context.Context, jobs []job, total int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for i, j := range jobs {
		if !c.takeSlot(ctx) {
			c.notStarted(jobs[i:], context.Cause(ctx))
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-c.slots }()
			if err := c.copyVerified(ctx, j.item, j.idx, total); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}

// takeSlot waits for a free copy slot; false when ctx ended first (and
// then no slot is held).
func (c *collector) takeSlot(ctx context.Context) bool {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	if ctx.Err() != nil {
		<-c.slots
		return false
	}
	return true
}

// notStarted records the jobs the run could not start, with why, and
// returns their outcomes.
func (c *collector) notStarted(jobs []job, why error) []FileOutcome {
	var out []FileOutcome
	for _, j := range jobs {
		it := j.item
		msg := "not copied: " + why.Error()
		c.record(custody.TypeFileNotStarted, custody.Step{VMID: it.VMID, VM: it.VMName, Source: it.Source, Dest: it.Dest, Size: it.Size,
			PlannedSize: it.Size, Kind: it.Kind, Method: it.Method, Live: it.Live, Error: msg})
		fr := FileOutcome{Item: it, Dest: it.Dest, NotStarted: true, Error: msg}
		c.addResult(fr)
		out = append(out, fr)
	}
	return out
}

func (c *collector) addResult(fr FileOutcome) {
	c.mu.Lock()
	c.report.Files = append(c.report.Files, fr)
	c.mu.Unlock()
}

// sortResults puts the report in plan order, whatever order parallel
// copies finished in.
func (c *collector) sortResults(copies []PlanItem) {
	pos := make(map[string]int, len(copies))
	for i, it := range copies {
		pos[it.Dest] = i
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	at := func(i int) int {
		if p, ok := pos[c.report.Files[i].Item.Dest]; ok {
			return p
		}
		return len(copies) // found during the run (--memory)
	}
	sort.SliceStable(c.report.Files, func(a, b int) bool { return at(a) < at(b) })
}

// stillInEvidence reports whether v, verified by an earlier run, is still
// in the evidence folder at its verified size, asked of the sink.
func (c *collector) stillInEvidence(ctx context.Context, v Verified) bool {
	f, err := c.o.Sink.OpenEvidence(ctx, v.Dest)
	if err != nil {
		return false
	}
	defer f.Close()
	n, err := f.Seek(0, io.SeekEnd)
	return err == nil && n == v.Size
}
