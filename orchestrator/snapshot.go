package orchestrator

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/esxi"
)

// ourSnapshot is a snapshot this run created.
type ourSnapshot struct {
	vm   *VM
	name string
	id   int
}

// snapshotDescription is the description our snapshots carry: with the
// run id in the name, the second half of the proof that a snapshot is
// ours (ownSnapshot).
func snapshotDescription(runID string) string {
	return "esxsink forensic acquisition " + runID + "; removed when the copy is done"
}

var ourDescPattern = regexp.MustCompile(`^esxsink forensic acquisition ([0-9a-f]{8});`)

// snapshotAttempts tries to take our snapshot of vm, a bounded number of
// times with a growing wait: a host busy consolidating or quiescing
// refuses a snapshot now and takes it a little later.
func (c *collector) snapshotAttempts(ctx context.Context, vm *VM) (*ourSnapshot, error) {
	tries, wait := c.o.SnapshotAttempts, c.o.SnapshotBackoff
	if tries < 1 {
		tries = 3
	}
	if wait <= 0 {
		wait = 5 * time.Second
	}
	for attempt := 1; ; attempt++ {
		snap, err := c.snapshot(ctx, vm)
		if err == nil || attempt >= tries || ctx.Err() != nil {
			return snap, err
		}
		c.record(custody.TypeAcquisitionNote, custody.Step{VMID: vm.ID, VM: vm.Name, Attempt: attempt, Error: err.Error(),
			Note: fmt.Sprintf("our snapshot of VM %q failed (attempt %d of %d): trying again in %s", vm.Name, attempt, tries, wait)})
		// A failed create may still have left our snapshot: it goes
		// first, so that the next one is the only one of its name.
		if left := c.snapOf(vm); left != nil {
			if err := c.undoSnapshot(context.WithoutCancel(ctx), left); err != nil {
				return nil, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// snapOf returns our snapshot of vm, if the run holds one.
func (c *collector) snapOf(vm *VM) *ourSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.snaps {
		if s.vm == vm {
			return s
		}
	}
	return nil
}

// snapshot takes our uniquely named snapshot of a running VM and finds its
// id by that name. On failure nothing of ours is left: a snapshot that was
// created anyway is removed.
func (c *collector) snapshot(ctx context.Context, vm *VM) (*ourSnapshot, error) {
	s := &ourSnapshot{vm: vm, name: c.label + "-vm" + fmt.Sprint(vm.ID)}
	cmd, err := esxi.CmdSnapshotCreate(vm.ID, s.name, snapshotDescription(c.o.RunID), c.o.Memory, false)
	if err != nil {
		return nil, err
	}
	res, err := c.o.Runner.Run(ctx, cmd)
	var createErr error
	switch {
	case err != nil:
		createErr = err
	case res.ExitStatus != 0:
		createErr = fmt.Errorf("exit status %d: %s", res.ExitStatus, clip(strings.TrimSpace(string(res.Stdout)+string(res.Stderr))))
	default:
		createErr = esxi.CheckSnapshotCreate(string(res.Stdout) + string(res.Stderr))
	}
	id, findErr := c.findSnapshot(context.WithoutCancel(ctx), vm, s.name)
	if id > 0 {
		s.id = id
		c.mu.Lock()
		c.snaps = append(c.snaps, s)
		c.mu.Unlock()
	}
	if createErr != nil {
		return nil, fmt.Errorf("snapshot of VM %q (vmid %d) on %s failed: %w; its running disks cannot be copied consistently", vm.Name, vm.ID, c.o.Host, createErr)
	}
	if findErr != nil {
		return nil, fmt.Errorf("find our snapshot %q of VM %q (vmid %d): %w", s.name, vm.Name, vm.ID, findErr)
	}
	if id == 0 {
		return nil, fmt.Errorf("snapshot %q of VM %q (vmid %d) was reported created but is not in the snapshot tree", s.name, vm.Name, vm.ID)
	}
	c.record(custody.TypeSnapshotCreated, custody.Step{VMID: vm.ID, VM: vm.Name, Snapshot: s.name, SnapID: id})
	return s, nil
}

// findSnapshot returns the id of the one snapshot named name (0: none).
// Our snapshot is created as a leaf: one with children right after its
// creation is not ours to use.
func (c *collector) findSnapshot(ctx context.Context, vm *VM, name string) (int, error) {
	tree, err := c.snapshotTree(ctx, vm)
	if err != nil {
		return 0, err
	}
	nodes := tree.ByName(name)
	switch len(nodes) {
	case 0:
		return 0, nil
	case 1:
		if n := len(nodes[0].Children); n > 0 {
			return 0, fmt.Errorf("snapshot %q has %d child snapshot(s): not ours to use", name, n)
		}
		return nodes[0].ID, nil
	}
	return 0, fmt.Errorf("%d snapshots are named %q: not removing any", len(nodes), name)
}

// snapshotTree reads vm's snapshot tree; a connection lost on the way is
// dialled again once (reading changes nothing, so asking twice is safe).
func (c *collector) snapshotTree(ctx context.Context, vm *VM) (*esxi.SnapshotTree, error) {
	res, err := c.query(ctx, esxi.CmdSnapshotGet(vm.ID))
	if err != nil {
		return nil, err
	}
	if res.ExitStatus != 0 {
		return nil, fmt.Errorf("snapshot.get exited with status %d: %s", res.ExitStatus, clip(string(res.Stderr)))
	}
	return esxi.ParseSnapshotTree(string(res.Stdout))
}

// query runs a command that only reads, again after a reconnect when the
// connection was lost under it.
func (c *collector) query(ctx context.Context, cmd string) (*CommandResult, error) {
	res, err := c.o.Runner.Run(ctx, cmd)
	if err == nil || ctx.Err() != nil || !c.reconnect(ctx) {
		return res, err
	}
	return c.o.Runner.Run(ctx, cmd)
}

// reconnect dials the host again if the connection is lost and the caller
// allows it; true when a new connection is up.
func (c *collector) reconnect(ctx context.Context) bool {
	r, ok := c.o.Runner.(*Runner)
	if !ok || c.o.Redial == nil || r.Lost() == nil {
		return false
	}
	c.ensureConnected(ctx)
	return r.Lost() == nil
}

// stillThere confirms, after a frozen file's copy, that our snapshot of
// its VM was there all along: snapshot ids are never reused, so the same
// name and id at the end mean the same snapshot. One that vanished is an
// anomaly, and what was read under it is not one moment's image.
func (c *collector) stillThere(ctx context.Context, it PlanItem, fr *FileOutcome) {
	if why := c.notFrozen(it); why != "" {
		fr.Verified, fr.Error = false, strings.Trim(why+"; "+fr.Error, "; ")
		return
	}
	s := c.snapOf(it.vm)
	if s == nil {
		return
	}
	tree, err := c.snapshotTree(ctx, s.vm)
	if err != nil {
		c.logger.Warn("could not confirm our snapshot after a copy", "snapshot", s.name, "err", err)
		return
	}
	if n := tree.ByID(s.id); n != nil && n.Name == s.name {
		return
	}
	why := fmt.Sprintf("our snapshot %q (id %d) of VM %q vanished while %s was copied (removed by someone else): what was read is not one moment's image", s.name, s.id, s.vm.Name, it.Source)
	c.vanish(s, why, fr.Dest)
	fr.Verified, fr.Error = false, strings.Trim(why+"; "+fr.Error, "; ")
}

// vanish records that our snapshot s is gone without our removing it.
func (c *collector) vanish(s *ourSnapshot, why string, affected ...string) {
	c.mu.Lock()
	c.vanished[s.vm] = s
	c.mu.Unlock()
	c.dropSnap(s)
	c.record(custody.TypeSnapshotVanished, custody.Step{VMID: s.vm.ID, VM: s.vm.Name, Snapshot: s.name, SnapID: s.id, Note: why, Affected: affected})
	c.logger.Error(why)
}

// undoSnapshot removes our snapshot at the end of the run (or in
// cleanup); what cannot be undone is a cleanup.failed record.
func (c *collector) undoSnapshot(ctx context.Context, s *ourSnapshot) error {
	if err := c.removeSnapshot(ctx, s); err != nil {
		return c.fail(custody.TypeCleanupFailed, err)
	}
	return nil
}

// removeSnapshot removes our snapshot by id (never removeall), only while
// it is a leaf, and confirms it is gone from the tree. State is confirmed
// before anything is advised: a snapshot found gone after a lost
// connection was removed, one gone before our removal vanished.
func (c *collector) removeSnapshot(ctx context.Context, s *ourSnapshot) error {
	before, err := c.snapshotTree(ctx, s.vm)
	if err != nil {
		return (fmt.Errorf("read the snapshot tree of VM %q (vmid %d) on %s to remove our snapshot %q (id %d): %w; check it with vim-cmd vmsvc/snapshot.get %d, then run esxsink cleanup",
			s.vm.Name, s.vm.ID, c.o.Host, s.name, s.id, err, s.vm.ID))
	}
	switch n := before.ByID(s.id); {
	case n == nil || n.Name != s.name:
		c.vanish(s, fmt.Sprintf("our snapshot %q (id %d) of VM %q was gone when we came to remove it: removed by someone else", s.name, s.id, s.vm.Name))
		return nil
	case len(n.Children) > 0:
		// Removing it would merge it into a snapshot someone else took
		// on top of ours during the run: their tree is not ours to change.
		return (fmt.Errorf("our snapshot %q (id %d) of VM %q (vmid %d) on %s now has %d child snapshot(s) someone else took during the run: left alone, since removing it would change their snapshot tree; remove it once they agree: vim-cmd vmsvc/snapshot.remove %d %d",
			s.name, s.id, s.vm.Name, s.vm.ID, c.o.Host, len(n.Children), s.vm.ID, s.id))
	}
	res, err := c.o.Runner.Run(ctx, esxi.CmdSnapshotRemove(s.vm.ID, s.id))
	lost := err != nil && c.reconnect(ctx)
	if err == nil && res.ExitStatus != 0 {
		err = fmt.Errorf("exit status %d: %s", res.ExitStatus, clip(strings.TrimSpace(string(res.Stdout)+string(res.Stderr))))
	}
	if err == nil {
		_, err = esxi.ParseSnapshotRemove(string(res.Stdout))
	}
	after, ferr := c.snapshotTree(ctx, s.vm)
	if ferr == nil && after.ByID(s.id) == nil {
		rec := custody.Step{VMID: s.vm.ID, VM: s.vm.Name, Snapshot: s.name, SnapID: s.id}
		if lost {
			rec.Note = "confirmed gone after the connection was lost during its removal"
		}
		c.record(custody.TypeSnapshotRemoved, rec)
		c.dropSnap(s)
		c.undone(fmt.Sprintf("snapshot %q (id %d) of VM %q removed", s.name, s.id, s.vm.Name))
		return nil
	}
	if err == nil {
		err = ferr
	}
	if err == nil {
		err = fmt.Errorf("it is still in the snapshot tree")
	}
	return (fmt.Errorf("remove our snapshot %q (id %d) of VM %q (vmid %d) on %s: %w; remove it by hand: vim-cmd vmsvc/snapshot.remove %d %d",
		s.name, s.id, s.vm.Name, s.vm.ID, c.o.Host, err, s.vm.ID, s.id))
}

func (c *collector) dropSnap(s *ourSnapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.snaps {
		if x == s {
			c.snaps = append(c.snaps[:i], c.snaps[i+1:]...)
			return
		}
	}
}
