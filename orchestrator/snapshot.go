package orchestrator

import (
	"context"
	"fmt"
	"strings"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/esxi"
)

// ourSnapshot is a snapshot this run created.
type ourSnapshot struct {
	vm   *VM
	name string
	id   int
}

// snapshot takes our uniquely named snapshot of a running VM and finds its
// id by that name. On failure nothing of ours is left: a snapshot that was
// created anyway is removed.
func (c *collector) snapshot(ctx context.Context, vm *VM) (*ourSnapshot, error) {
	s := &ourSnapshot{vm: vm, name: c.label + "-vm" + fmt.Sprint(vm.ID)}
	cmd, err := esxi.CmdSnapshotCreate(vm.ID, s.name, "esxsink forensic acquisition "+c.o.RunID+"; removed when the copy is done", c.o.Memory, false)
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
func (c *collector) findSnapshot(ctx context.Context, vm *VM, name string) (int, error) {
	res, err := c.o.Runner.Run(ctx, esxi.CmdSnapshotGet(vm.ID))
	if err != nil {
		return 0, err
	}
	if res.ExitStatus != 0 {
		return 0, fmt.Errorf("snapshot.get exited with status %d: %s", res.ExitStatus, clip(string(res.Stderr)))
	}
	tree, err := esxi.ParseSnapshotTree(string(res.Stdout))
	if err != nil {
		return 0, err
	}
	nodes := tree.ByName(name)
	switch len(nodes) {
	case 0:
		return 0, nil
	case 1:
		return nodes[0].ID, nil
	}
	return 0, fmt.Errorf("%d snapshots are named %q: not removing any", len(nodes), name)
}

// removeSnapshot removes our snapshot by id (never removeall) and confirms
// it is gone from the tree.
func (c *collector) removeSnapshot(ctx context.Context, s *ourSnapshot) error {
	res, err := c.o.Runner.Run(ctx, esxi.CmdSnapshotRemove(s.vm.ID, s.id))
	if err == nil && res.ExitStatus != 0 {
		err = fmt.Errorf("exit status %d: %s", res.ExitStatus, clip(strings.TrimSpace(string(res.Stdout)+string(res.Stderr))))
	}
	if err == nil {
		_, err = esxi.ParseSnapshotRemove(string(res.Stdout))
	}
	id, ferr := c.findSnapshot(ctx, s.vm, s.name)
	if ferr == nil && id == 0 {
		c.record(custody.TypeSnapshotRemoved, custody.Step{VMID: s.vm.ID, VM: s.vm.Name, Snapshot: s.name, SnapID: s.id})
		c.dropSnap(s)
		return nil
	}
	if err == nil {
		err = ferr
	}
	if err == nil {
		err = fmt.Errorf("it is still in the snapshot tree")
	}
	return c.fail(custody.TypeCleanupFailed, fmt.Errorf("remove our snapshot %q (id %d) of VM %q (vmid %d) on %s: %w; remove it by hand: vim-cmd vmsvc/snapshot.remove %d %d",
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
