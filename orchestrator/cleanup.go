package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
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
	// ourTmpPattern: a copy's FIFO and a run's stop file in /tmp.
	ourTmpPattern = regexp.MustCompile(`^esxsink-([0-9a-f]{8})(-[0-9]+\.fifo|\.stop)$`)
)

// Leftover is a mount, snapshot or /tmp file an earlier esxsink run left
// on the host.
type Leftover struct {
	Kind string `json:"kind"` // "mount", "snapshot" or "file"
	// Path is a leftover file: a copy's FIFO or a run's stop file.
	Path     string `json:"path,omitempty"`
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
	cmd, _ := esxi.CmdLsVMFolder("/tmp")
	if res, err := r.Run(ctx, cmd); err == nil && res.ExitStatus == 0 {
		if entries, _, err := parseListing(string(res.Stdout)); err == nil {
			for _, e := range entries {
				if ourTmpPattern.MatchString(e.Name) {
					out = append(out, Leftover{Kind: "file", Path: "/tmp/" + e.Name})
				}
			}
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
	newCollector := func(runID string) *collector {
		return &collector{o: CollectOptions{Runner: o.Runner, Log: o.Log, Host: o.Host, UnmountBackoff: o.UnmountBackoff, RunID: runID},
			logger: o.Logger, report: &Outcome{}}
	}
	// A run that left its mount may have left copies reading into it:
	// stop them first, so neither the snapshot nor the mount is busy.
	stopped := map[string]bool{}
	for _, l := range lefts {
		if id, ok := strings.CutPrefix(l.Label, "esxsink-"); ok && l.Kind == "mount" && !stopped[id] {
			stopped[id] = true
			newCollector(id).stopCopies(ctx)
		}
	}
	var errs error
	for _, l := range lefts {
		c := newCollector("cleanup")
		switch l.Kind {
		case "snapshot":
			vm := &VM{ID: l.VMID, Name: l.VM}
			errs = errors.Join(errs, c.removeSnapshot(ctx, &ourSnapshot{vm: vm, name: l.Snapshot, id: l.SnapID}))
		case "mount":
			c.label, c.mounted = l.Label, true
			errs = errors.Join(errs, c.unmount(ctx))
		}
	}
	// Files last: a stop file removed early would let a copy go on.
	for id := range stopped {
		newCollector(id).clearStop(ctx)
	}
	for _, l := range lefts {
		if l.Kind != "file" {
			continue
		}
		var cmd string
		var err error
		if strings.HasSuffix(l.Path, ".fifo") {
			cmd, err = esxi.CmdRemoveFIFO(l.Path)
		} else {
			cmd, err = esxi.CmdClearStop(l.Path)
		}
		if err == nil {
			var res *CommandResult
			if res, err = o.Runner.Run(ctx, cmd); err == nil && res.ExitStatus != 0 {
				err = fmt.Errorf("exit status %d: %s", res.ExitStatus, clip(string(res.Stderr)))
			}
		}
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("remove %s on %s: %w", l.Path, o.Host, err))
		}
	}
	return errs
}
