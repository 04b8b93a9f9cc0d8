package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/esxsink/esxsink/esxi"
)

// Our names: the datastore label esxsink-RUNID and the snapshot
// esxsink-RUNID-vmVMID, RUNID being 8 lowercase hex digits. Cleanup
// touches nothing else.
var (
	runIDPattern    = regexp.MustCompile(`^[0-9a-f]{8}$`)
	ourLabelPattern = regexp.MustCompile(`^esxsink-[0-9a-f]{8}$`)
	ourSnapPattern  = regexp.MustCompile(`^esxsink-[0-9a-f]{8}-vm([0-9]+)$`)
)

// Leftover is a mount or snapshot an earlier esxsink run left on the host.
type Leftover struct {
	Kind     string `json:"kind"` // "mount" or "snapshot"
	Label    string `json:"label,omitempty"`
	Share    string `json:"share,omitempty"`
	VMID     int    `json:"vmid,omitempty"`
	VM       string `json:"vm,omitempty"`
	Snapshot string `json:"snapshot,omitempty"`
	SnapID   int    `json:"snapshot_id,omitempty"`
}

// FindLeftovers lists our mounts (esxcfg-nas -l) and our snapshots (in
// the inventory's snapshot trees) by their names, and only those.
func FindLeftovers(ctx context.Context, r Commander, inv *Inventory) ([]Leftover, error) {
	var out []Leftover
	for _, vm := range inv.VMs {
		if vm.Snapshots == nil {
			continue
		}
		for _, s := range vm.Snapshots.All() {
			m := ourSnapPattern.FindStringSubmatch(s.Name)
			if m == nil || m[1] != strconv.Itoa(vm.ID) {
				continue
			}
			out = append(out, Leftover{Kind: "snapshot", VMID: vm.ID, VM: vm.Name, Snapshot: s.Name, SnapID: s.ID})
		}
	}
	res, err := r.Run(ctx, esxi.CmdNASList())
	if err != nil {
		return out, fmt.Errorf("list NAS datastores on %s: %w", inv.Host.Addr, err)
	}
	if res.ExitStatus != 0 {
		return out, fmt.Errorf("esxcfg-nas -l on %s exited with status %d: %s", inv.Host.Addr, res.ExitStatus, clip(string(res.Stderr)))
	}
	mounts, err := esxi.ParseNASList(string(res.Stdout))
	if err != nil {
		return out, fmt.Errorf("parse the NAS list of %s: %w", inv.Host.Addr, err)
	}
	for _, m := range mounts {
		if ourLabelPattern.MatchString(m.Label) {
			out = append(out, Leftover{Kind: "mount", Label: m.Label, Share: m.Host + ":" + m.Share})
		}
	}
	return out, nil
}

// CleanupOptions are the runner, custody log and logger of UndoLeftovers.
type CleanupOptions struct {
	Runner         Commander
	Log            Recorder
	Host           string
	UnmountBackoff time.Duration
	Logger         *slog.Logger
}

// UndoLeftovers removes the snapshots (by id, confirming each is gone)
// and detaches the mounts FindLeftovers found. Every step is a custody
// record; the error joins what could not be undone.
func UndoLeftovers(ctx context.Context, lefts []Leftover, o CleanupOptions) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var errs error
	for _, l := range lefts {
		c := &collector{o: CollectOptions{Runner: o.Runner, Log: o.Log, Host: o.Host, UnmountBackoff: o.UnmountBackoff, RunID: "cleanup"},
			logger: o.Logger, report: &Report{}}
		switch l.Kind {
		case "snapshot":
			vm := &VM{ID: l.VMID, Name: l.VM}
			errs = errors.Join(errs, c.removeSnapshot(ctx, &ourSnapshot{vm: vm, name: l.Snapshot, id: l.SnapID}))
		case "mount":
			c.label, c.mounted = l.Label, true
			errs = errors.Join(errs, c.unmount(ctx))
		}
	}
	return errs
}
