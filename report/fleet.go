package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/esxsink/esxsink/custody"
)

// Fleet is a case of several hosts (or a fleet run, collect --vcenter):
// the fleet's totals and a section per host. Report.Fleet is nil for a
// case of one host collected with collect --host.
type Fleet struct {
	// Runs are the fleet runs' ids.
	Runs []string `json:"fleet_runs,omitempty"`
	// Asked is how many hosts the case names; the others count them by
	// what became of them.
	Asked    int `json:"hosts"`
	Complete int `json:"hosts_collected_fully"`
	Partly   int `json:"hosts_partly_collected"`
	Refused  int `json:"hosts_refused"`
	Failed   int `json:"hosts_failed"`
	Nothing  int `json:"hosts_nothing_collected,omitempty"`
	// VMs is how many VMs the case holds evidence files of.
	VMs   int           `json:"vms"`
	Hosts []HostSection `json:"host_sections"`
}

// HostSection is what the case holds of one host.
type HostSection struct {
	custody.HostTally
	// Groups are its evidence files by VM.
	Groups []VM `json:"groups,omitempty"`
	// ServiceChanges are the changes made to its services through the
	// vSphere API (TSM-SSH started for the run and put back).
	ServiceChanges []ServiceChange `json:"service_changes,omitempty"`
	Anomalies      []Event         `json:"anomalies,omitempty"`
	Skipped        []Skipped       `json:"skipped,omitempty"`
	NotCollected   []File          `json:"not_collected,omitempty"`
	// Cleanup says, line by line, what was undone on the host and what
	// was not.
	Cleanup []string `json:"cleanup,omitempty"`
}

// ServiceChange is one host.service_changed record.
type ServiceChange struct {
	custody.ServiceChange
	Time time.Time `json:"time"`
	Line int       `json:"line"`
}

// buildFleet gives each host of fl its section: every part of the
// report already loaded goes to the host its record is about.
func buildFleet(r *Report, fl *custody.Fleet, a *custody.Assessment, changes []ServiceChange) *Fleet {
	out := &Fleet{Runs: fl.Runs, Asked: len(fl.Hosts)}
	idx := map[string]int{}
	for _, h := range fl.Hosts {
		idx[h.Name] = len(out.Hosts)
		out.Hosts = append(out.Hosts, HostSection{HostTally: *h})
		switch h.Status {
		case custody.HostComplete:
			out.Complete++
		case custody.HostPartly:
			out.Partly++
		case custody.HostRefused:
			out.Refused++
		case custody.HostFailed:
			out.Failed++
		case custody.HostNothing:
			out.Nothing++
		}
	}
	section := func(host, runID string) *HostSection {
		if i, ok := idx[fl.HostOf(host, runID)]; ok {
			return &out.Hosts[i]
		}
		return nil
	}
	vms := map[string]bool{}
	for _, vm := range r.VMs {
		var files []File
		for _, f := range vm.Files {
			if f.Kind == KindCheck {
				continue
			}
			files = append(files, f)
			if vm.Name != "" {
				vms[fmt.Sprintf("%s\x00%d\x00%s", fl.HostOf(f.Host, f.RunID), vm.ID, vm.Name)] = true
			}
		}
		if len(files) == 0 {
			continue
		}
		if s := section(files[0].Host, files[0].RunID); s != nil {
			g := vm
			g.Files = files
			s.Groups = append(s.Groups, g)
		}
	}
	out.VMs = len(vms)
	for _, f := range r.NotCollected {
		if s := section(f.Host, f.RunID); s != nil {
			s.NotCollected = append(s.NotCollected, f)
		}
	}
	for _, ch := range changes {
		if s := section(ch.Host, ch.RunID); s != nil {
			s.ServiceChanges = append(s.ServiceChanges, ch)
		}
	}
	for _, e := range r.Anomalies {
		if i, ok := idx[fl.ByLine[e.Line]]; ok && e.Line > 0 && e.Kind != KindNotice {
			out.Hosts[i].Anomalies = append(out.Hosts[i].Anomalies, e)
		}
	}
	for _, sk := range r.Skipped {
		if i, ok := idx[fl.ByLine[sk.Line]]; ok {
			out.Hosts[i].Skipped = append(out.Hosts[i].Skipped, sk)
		}
	}
	for i := range out.Hosts {
		out.Hosts[i].Cleanup = hostCleanup(r, fl, &out.Hosts[i])
	}
	return out
}

// hostCleanup says what was undone on h: our snapshots removed, the sink
// detached, its services put back; and what was not.
func hostCleanup(r *Report, fl *custody.Fleet, h *HostSection) []string {
	var out []string
	for _, s := range r.Snapshots {
		if fl.HostOf(s.Host, "") != h.Name {
			continue
		}
		if s.Removed.IsZero() {
			out = append(out, fmt.Sprintf("snapshot %q of VM %q NOT REMOVED%s", s.Name, s.VM, opt(": ", s.CleanupError)))
		} else {
			out = append(out, fmt.Sprintf("snapshot %q of VM %q removed", s.Name, s.VM))
		}
	}
	for _, run := range r.Runs {
		if fl.HostOf(run.Host, run.ID) != h.Name || run.Mounted.IsZero() {
			continue
		}
		if run.Unmounted.IsZero() {
			out = append(out, fmt.Sprintf("run %s: NO RECORD that the sink (%s) was detached", run.ID, orDash(run.Label)))
		} else {
			out = append(out, fmt.Sprintf("run %s: the sink (%s) was detached", run.ID, orDash(run.Label)))
		}
	}
	first := map[string]custody.ServiceState{}
	last := map[string]*ServiceChange{}
	var order []string
	for i, ch := range h.ServiceChanges {
		if _, ok := first[ch.Service]; !ok {
			first[ch.Service] = ch.Before
			order = append(order, ch.Service)
		}
		last[ch.Service] = &h.ServiceChanges[i]
	}
	for _, svc := range order {
		l := last[svc]
		switch {
		case l.After == nil:
			out = append(out, fmt.Sprintf("%s: its state after the last change is NOT KNOWN (%s)", svc, orDash(l.Error)))
		case *l.After == first[svc]:
			out = append(out, fmt.Sprintf("%s put back as found (%s)", svc, serviceState(first[svc])))
		default:
			out = append(out, fmt.Sprintf("%s NOT PUT BACK: found %s, left %s", svc, serviceState(first[svc]), serviceState(*l.After)))
		}
	}
	return out
}

// serviceState is a service's state in words: "running, policy on".
func serviceState(s custody.ServiceState) string {
	run := "stopped"
	if s.Running {
		run = "running"
	}
	return fmt.Sprintf("%s, policy %s", run, orDash(s.Policy))
}

// fleetProblems are the hosts that keep a fleet from being complete, one
// problem each, to lead the case's problems.
func fleetProblems(f *Fleet) []string {
	var out []string
	for _, h := range f.Hosts {
		switch h.Status {
		case custody.HostComplete, custody.HostNothing:
			continue
		}
		out = append(out, HostLine(h.HostTally))
	}
	return out
}

// HostLine is one host in one line, as the report's fleet summary and
// collect's closing statement show it: "esx01 (10.0.0.11:22): collected
// fully – 5 verified; 1.2 GiB; 2 VMs".
func HostLine(h custody.HostTally) string {
	name := h.Name
	if len(h.Addrs) > 0 {
		name += " (" + strings.Join(h.Addrs, ", ") + ")"
	}
	if h.Status == custody.HostRefused {
		if h.Touched {
			return fmt.Sprintf("%s: REFUSED: %s", name, h.Refused)
		}
		return fmt.Sprintf("%s: REFUSED, left untouched: %s", name, h.Refused)
	}
	s := fmt.Sprintf("%s: %s – %s; %s; %d VM(s)", name, h.Status, h.Counts, humanBytes(h.Counts.Bytes), h.VMs)
	if n := len(h.Problems); n > 0 {
		s += fmt.Sprintf("; %d problem(s)", n)
	}
	return s
}

// FleetLine counts the hosts by what became of them: "3 hosts asked
// for: 1 collected fully, 1 PARTLY COLLECTED, 1 REFUSED, 0 FAILED".
func FleetLine(f *Fleet) string {
	asked := "hosts"
	if len(f.Runs) > 0 {
		asked = "hosts asked for"
	}
	s := fmt.Sprintf("%d %s: %d %s, %d %s, %d %s, %d %s", f.Asked, asked, f.Complete, custody.HostComplete, f.Partly, custody.HostPartly,
		f.Refused, custody.HostRefused, f.Failed, custody.HostFailed)
	if f.Nothing > 0 {
		s += fmt.Sprintf(", %d %s", f.Nothing, custody.HostNothing)
	}
	return s
}

// notVerified names the count of each state other than verified:
// "2 copied live, 1 FAILED", "none".
func notVerified(c custody.Counts) string {
	c.Verified = 0
	if c == (custody.Counts{Files: c.Files, Bytes: c.Bytes}) {
		return "none"
	}
	return c.String()
}
