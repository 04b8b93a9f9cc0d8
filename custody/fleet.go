package custody

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A fleet run (collect --vcenter) collects several hosts into one case.
// Each collected host gets a run id of its own; a note ties it to the
// fleet's run id, and a refused host gets a note saying why. The notes'
// wording is made and read here only.

// FleetHostNote is the text of the note that ties host (reached at addr)
// and its own run id to the fleet run.
func FleetHostNote(fleetRun, host, addr, hostRun string) string {
	return fmt.Sprintf("fleet run %s: host %s (%s) is collected as run %s", fleetRun, host, addr, hostRun)
}

// FleetRefusalNote is the text of the note that says a fleet run refused
// host, and why.
func FleetRefusalNote(host, why string) string {
	return fmt.Sprintf("host %s refused, left untouched: %s", host, why)
}

var (
	fleetHostRE    = regexp.MustCompile(`^fleet run (\S+): host (.+) \((.*)\) is collected as run (\S+)$`)
	fleetRunRE     = regexp.MustCompile(`^fleet run (\S+): `)
	fleetRefusalRE = regexp.MustCompile(`^host (\S+) refused, left untouched: (.*)$`)
)

// HostStatus is what became of one host of a case.
type HostStatus string

// Host statuses. Upper case marks one that needs an explanation.
const (
	// HostComplete: evidence acquired and every file of the host whole
	// and intact, nothing asked for missing, the host left as found.
	HostComplete HostStatus = "collected fully"
	// HostPartly: some evidence acquired, but something of the host is
	// missing, failed or changed (its problems say what).
	HostPartly HostStatus = "PARTLY COLLECTED"
	// HostRefused: the run refused the host and left it untouched.
	HostRefused HostStatus = "REFUSED"
	// HostFailed: nothing whole was acquired from the host, and
	// something was meant to be.
	HostFailed HostStatus = "FAILED"
	// HostNothing: no evidence and no problem: there was nothing to collect.
	HostNothing HostStatus = "nothing collected"
)

// HostTally is one host of a case as the records tell it: how it is
// known, its runs, the verdict counts of its files and its problems.
type HostTally struct {
	// Name is the host as the fleet run names it (its inventory name),
	// or its address for a host collected with collect --host.
	Name string `json:"name"`
	// Addrs are the addresses it was reached at; Runs its own run ids.
	Addrs []string `json:"addresses,omitempty"`
	Runs  []string `json:"run_ids,omitempty"`
	// Refused says why a fleet run refused it; RefusedLine is the note.
	Refused     string `json:"refused,omitempty"`
	RefusedLine int    `json:"refused_line,omitempty"`
	// Counts are the verdicts of its files; VMs how many VMs they are of.
	Counts Counts `json:"counts"`
	VMs    int    `json:"vms"`
	// Touched says whether any record shows the case acting on the host
	// (a command, a service change, a copy, a mount).
	Touched  bool       `json:"touched"`
	Problems []Problem  `json:"problems,omitempty"`
	Status   HostStatus `json:"status"`
}

// Fleet is a case's hosts, each with its tally.
type Fleet struct {
	// Runs are the fleet runs' ids (collect --vcenter), in log order.
	Runs []string `json:"fleet_runs,omitempty"`
	// Hosts are in the order of their names.
	Hosts []*HostTally `json:"hosts"`
	// ByLine names the host each record of the log is about ("" for the
	// case or the fleet as a whole), by log line.
	ByLine map[int]string `json:"-"`

	byAddr, byRun map[string]string
	index         map[string]*HostTally
}

// IsFleet says whether the case holds more than one host or was
// collected by a fleet run.
func (f *Fleet) IsFleet() bool { return len(f.Runs) > 0 || len(f.Hosts) > 1 }

// Host returns the host named name, nil if there is none.
func (f *Fleet) Host(name string) *HostTally { return f.index[name] }

// HostOf names the host that a record's host field and run id are
// about: a host run's id or an address resolve to the host's name.
func (f *Fleet) HostOf(host, runID string) string {
	if n, ok := f.byRun[runID]; ok {
		return n
	}
	if n, ok := f.byAddr[host]; ok {
		return n
	}
	if _, ok := f.index[host]; ok {
		return host
	}
	return ""
}

// Tally counts the hosts by status.
func (f *Fleet) Tally() map[HostStatus]int {
	out := map[HostStatus]int{}
	for _, h := range f.Hosts {
		out[h.Status]++
	}
	return out
}

// hostFields are the fields by which a record names its host.
type hostFields struct {
	Host    string `json:"host"`
	Address string `json:"address"`
	RunID   string `json:"run_id"`
}

// NewFleet reads the case's hosts from its records and a's verdicts:
// each evidence file, problem and record goes to the host it is about.
func NewFleet(recs []Record, a *Assessment) *Fleet {
	f := &Fleet{ByLine: map[int]string{}, byAddr: map[string]string{}, byRun: map[string]string{}, index: map[string]*HostTally{}}
	add := func(name string) *HostTally {
		h, ok := f.index[name]
		if !ok {
			h = &HostTally{Name: name}
			f.index[name] = h
			f.Hosts = append(f.Hosts, h)
		}
		return h
	}
	addRun := func(id string) {
		if id != "" && !slices.Contains(f.Runs, id) {
			f.Runs = append(f.Runs, id)
		}
	}
	// Runs that only read the vSphere API (triage --vcenter) are neither
	// a fleet run nor a host's.
	apiOnly := map[string]bool{}
	for _, rec := range recs {
		var d Step
		if (rec.Type == TypeAcquisitionStarted || rec.Type == TypeRunFailed) && rec.Decode(&d) == nil && d.Kind == KindVCenterTriage {
			apiOnly[d.RunID] = true
		}
	}
	// First the notes and records that say which hosts a fleet has.
	named := map[string]bool{}
	for _, rec := range recs {
		switch rec.Type {
		case TypeNote:
			var n Note
			if rec.Decode(&n) != nil {
				continue
			}
			if m := fleetHostRE.FindStringSubmatch(n.Text); m != nil {
				h := add(m[2])
				named[h.Name] = true
				appendNew(&h.Addrs, m[3])
				appendNew(&h.Runs, m[4])
				f.byAddr[m[3]], f.byRun[m[4]] = h.Name, h.Name
			} else if m := fleetRefusalRE.FindStringSubmatch(n.Text); m != nil {
				h := add(m[1])
				named[h.Name] = true
				h.Refused, h.RefusedLine = m[2], rec.Line
			}
			if m := fleetRunRE.FindStringSubmatch(n.Text); m != nil {
				addRun(m[1])
			}
		case TypeVCenterConnected:
			var d VCenterConnected
			if rec.Decode(&d) == nil && !apiOnly[d.RunID] {
				addRun(d.RunID)
			}
		}
	}
	// A host the fleet named in a record of its own (a service change,
	// VMs not collected) without a note: its preparation failed.
	for _, rec := range recs {
		if rec.Type != TypeNotCollected && rec.Type != TypeHostServiceChanged {
			continue
		}
		var d struct {
			hostFields
			What string `json:"what"`
		}
		if rec.Decode(&d) == nil && slices.Contains(f.Runs, d.RunID) && d.Host != "" && d.Host != NoHost && d.What != WhatVCenterEvidence {
			add(d.Host)
			named[d.Host] = true
		}
	}
	for _, rec := range recs {
		var d hostFields
		if len(rec.Data) == 0 || rec.Data[0] != '{' || json.Unmarshal(rec.Data, &d) != nil {
			continue
		}
		if rec.Type == TypeHostIdentified {
			d.Host = d.Address
		}
		name := f.HostOf(d.Host, d.RunID)
		switch {
		case name != "":
		case d.Host == "" || d.Host == NoHost || slices.Contains(f.Runs, d.RunID) || apiOnly[d.RunID]:
			// The case's or the fleet's own (a vCenter, a VM on no host).
			continue
		default:
			// A host collected on its own (collect --host).
			name = d.Host
			add(name)
		}
		f.ByLine[rec.Line] = name
		if rec.Type != TypeNotCollected && rec.Type != TypeNote {
			f.index[name].Touched = true
		}
	}
	for _, fs := range a.Files {
		if h := f.index[f.HostOf(fs.Host, fs.RunID)]; h != nil {
			h.Counts.add(fs)
		}
	}
	vms := map[string]map[string]bool{}
	for _, fs := range a.Files {
		name := f.HostOf(fs.Host, fs.RunID)
		if name == "" || fs.VM == "" || fs.Verdict == NotCollected || fs.Verdict == Skipped || fs.Verdict == Superseded {
			continue
		}
		if vms[name] == nil {
			vms[name] = map[string]bool{}
		}
		vms[name][fmt.Sprintf("%d\x00%s", fs.VMID, fs.VM)] = true
	}
	for _, p := range a.Problems {
		if h := f.index[f.ByLine[p.Line]]; h != nil && p.Line > 0 {
			h.Problems = append(h.Problems, p)
		}
	}
	slices.SortStableFunc(f.Hosts, func(x, y *HostTally) int { return strings.Compare(x.Name, y.Name) })
	for _, h := range f.Hosts {
		h.VMs = len(vms[h.Name])
		h.Status = h.status()
	}
	return f
}

// NoHost is the host field of a record about a VM that vCenter places on
// no host.
const NoHost = "(no host)"

// status judges the host from its tally.
func (h *HostTally) status() HostStatus {
	good := h.Counts.Verified + h.Counts.CopiedLive + h.Counts.Received
	switch {
	case h.Refused != "" && len(h.Runs) == 0:
		return HostRefused
	case good == 0 && (len(h.Problems) > 0 || h.Counts.Files > 0):
		return HostFailed
	case good == 0:
		return HostNothing
	case len(h.Problems) > 0 || good < h.Counts.Files:
		return HostPartly
	}
	return HostComplete
}

func appendNew(s *[]string, v string) {
	if v != "" && !slices.Contains(*s, v) {
		*s = append(*s, v)
	}
}
