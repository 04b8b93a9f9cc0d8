package orchestrator

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/esxi"
)

// memoryJobs are the state and memory files our snapshot with memory
// (--memory) wrote into the VM folder: the .vmsn and .vmem that were not
// there when the host was inventoried. They hold the VM's RAM at the
// snapshot, frozen from then on, and are copied with its disks.
func (c *collector) memoryJobs(ctx context.Context, vm *VM, like PlanItem, idx int) ([]job, error) {
	cmd, err := esxi.CmdLsVMFolder(vm.Dir)
	if err != nil {
		return nil, err
	}
	res, err := c.o.Runner.Run(ctx, cmd)
	if err != nil {
		return nil, fmt.Errorf("list %s after our snapshot: %w", vm.Dir, err)
	}
	entries, err := esxi.ParseFolderListing(string(res.Stdout))
	if err != nil {
		return nil, fmt.Errorf("parse the listing of %s after our snapshot: %w", vm.Dir, err)
	}
	known := map[string]bool{}
	for _, f := range vm.Files {
		known[f.Name] = true
	}
	folder := EvidencePath(vm.Dir, c.stores)
	var jobs []job
	for _, e := range entries {
		ext := path.Ext(e.Name)
		if known[e.Name] || !e.Mode.IsRegular() || (ext != ".vmem" && ext != ".vmsn") {
			continue
		}
		it := PlanItem{VMID: vm.ID, VMName: vm.Name, Source: esxi.JoinHostPath(vm.Dir, e.Name), Size: e.Size, Kind: fileKind(e.Name, diskRole{}),
			Method: MethodCopy, Dest: folder + "/" + EvidenceName(e.Name), vm: vm,
			Note: "written by our snapshot with memory (--memory): the VM's RAM at " + strings.TrimSuffix(e.Name, ext)}
		jobs = append(jobs, job{item: it, idx: idx})
	}
	if len(jobs) == 0 {
		c.record(custody.TypeAcquisitionNote, custody.Step{VMID: vm.ID, VM: vm.Name, Note: "--memory: our snapshot wrote no .vmem (a VM that is not running has no memory to save)"})
	}
	return jobs, nil
}
