package orchestrator

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/esxsink/esxsink/esxi"
)

// UnplacedVM is a registered VM discovery found but cannot collect: vim-cmd
// skipped it as invalid, or its power state or files could not be read. It
// is reported as found but not collected, never left out.
type UnplacedVM struct {
	ID     int    `json:"id"`
	Name   string `json:"name,omitempty"`
	VMX    string `json:"vmx,omitempty"` // "" when vim-cmd could not read its configuration
	Reason string `json:"reason"`
}

// DiscoveryProblem is one VM the host reports that discovery could not
// place: a vmid whose configuration cannot be read, or a running VM whose
// .vmx no registered VM uses.
type DiscoveryProblem struct {
	VMID       int    `json:"vmid,omitempty"`        // 0 for a running VM found by its .vmx only
	ConfigFile string `json:"config_file,omitempty"` // the running VM's .vmx
	Name       string `json:"name,omitempty"`
	Source     string `json:"source"` // the command that reported it
	Reason     string `json:"reason"`
}

func (p DiscoveryProblem) String() string {
	what := fmt.Sprintf("vmid %d", p.VMID)
	if p.VMID == 0 {
		what = fmt.Sprintf("running VM %q (%s)", p.Name, p.ConfigFile)
	}
	return fmt.Sprintf("%s, reported by %s: %s", what, p.Source, p.Reason)
}

// DiscoveryError is returned by Discover when the host reports VMs that
// discovery cannot place. Going on would miss them silently (collect --all
// would exit 0 without them, --unregistered would copy a running VM without
// a snapshot), so discovery fails and names each one.
type DiscoveryError struct {
	Host     string
	Problems []DiscoveryProblem
}

func (e *DiscoveryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "discovery on %s cannot place %d VM(s) the host reports, so nothing is collected rather than missing them:", e.Host, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	b.WriteString("\ncheck them on the host (vim-cmd vmsvc/get.config VMID, esxcli vm process list); the commands' outputs are kept in the case's host-commands folder")
	return b.String()
}

// VMIDs are the vmids the error names.
func (e *DiscoveryError) VMIDs() []int {
	var ids []int
	for _, p := range e.Problems {
		if p.VMID != 0 {
			ids = append(ids, p.VMID)
		}
	}
	return ids
}

func (d *discovery) problem(p DiscoveryProblem) {
	d.log.Error("VM not placed", "problem", p.String())
	d.problems = append(d.problems, p)
}

func (d *discovery) unplace(u UnplacedVM) {
	where := ""
	if u.VMX != "" {
		where = " (" + u.VMX + ")"
	}
	d.warn("vmid %d%s is registered but will not be collected: %s", u.ID, where, u.Reason)
	d.inv.Unplaced = append(d.inv.Unplaced, u)
}

// processes cross-checks the running VMs (esxcli vm process list) against
// the registered ones: a VM that runs must belong to a registered vmid,
// or getallvms hid it. Hosts without esxcli's vm namespace exist, so a
// failing command is a warning only.
func (d *discovery) processes(ctx context.Context) {
	cmd, err := esxi.CmdEsxcli(esxi.FormatCSV, "vm", "process", "list")
	if err != nil {
		d.warn("running VMs not cross-checked: %v", err)
		return
	}
	out, err := d.run(ctx, "list the running VMs", cmd)
	if err != nil {
		d.warn("running VMs not cross-checked: %v", err)
		return
	}
	recs, err := esxi.ParseCSV(out)
	if err != nil {
		d.warn("running VMs not cross-checked: %v", err)
		return
	}
	procs, err := esxi.VMProcesses(recs)
	if err != nil {
		d.warn("running VMs not cross-checked: %v", err)
		return
	}
	placed := d.placedVMX()
	for _, p := range procs {
		vmx := esxi.CanonicalHostPath(p.ConfigFile, d.inv.Datastores)
		d.running[vmx] = true
		if !placed[vmx] {
			d.problem(DiscoveryProblem{ConfigFile: p.ConfigFile, Name: p.DisplayName, Source: "esxcli vm process list",
				Reason: "it runs, but no registered VM discovery placed uses this .vmx (getallvms left it out, or its get.config names another path)"})
		}
	}
}

// placedVMX are the canonical .vmx paths of the registered VMs, those
// discovery will collect and those it will not.
func (d *discovery) placedVMX() map[string]bool {
	placed := map[string]bool{}
	for _, vm := range d.inv.VMs {
		placed[esxi.CanonicalHostPath(vm.VMX, d.inv.Datastores)] = true
	}
	for _, u := range d.inv.Unplaced {
		if u.VMX != "" {
			placed[esxi.CanonicalHostPath(u.VMX, d.inv.Datastores)] = true
		}
	}
	return placed
}

// invalid reports whether vim-cmd skipped id as invalid.
func invalid(list *esxi.VMList, id int) bool { return slices.Contains(list.Invalid, id) }
