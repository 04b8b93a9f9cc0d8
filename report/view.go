package report

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/esxsink/esxsink/custody"
)

// view is what both templates render: the Report, plus every value whose
// wording is worked out in Go rather than in a template, so that the
// HTML and the Markdown cannot state different things. A template only
// lays the view out; what a cell says is decided here.
type view struct {
	*Report
	// Result is the headline: PASS or ATTENTION.
	Result string
	// Times says how the report shows times.
	Times string
	// HostRows are the hosts with their version in one line.
	HostRows []hostRow
	// Verdicts are the rows of the verdict table, numbered: every VM's
	// files, then the host artifacts.
	Verdicts []verdictRow
	// Outputs are the triage outputs with their exit in words.
	Outputs []outputRow
	// VerifyRows are the recorded verifications with their result in
	// words; Last is the latest, nil when there is none.
	VerifyRows []verifyRow
	Last       *verifyRow
	// FleetLine counts the hosts by what became of them; NotVerified
	// names every state but verified with its count; HostViews are the
	// hosts' sections. All empty unless the case is a fleet's.
	FleetLine   string
	NotVerified string
	HostViews   []hostView
}

// hostView is one host's section.
type hostView struct {
	HostSection
	// Line is the host in one line (HostLine); Addresses and RunIDs are
	// joined for a cell.
	Line, Addresses, RunIDs string
	// Refusal says a refused host was refused, why, and whether the
	// case touched it ("" for a host not refused).
	Refusal string
	Changes []changeRow
	Files   []verdictRow
}

// changeRow is a service change with its states in words.
type changeRow struct {
	ServiceChange
	Before, After string
}

type hostRow struct {
	Host
	// Version is product, version and build: "VMware ESXi 8.0.2
	// build-22380479 (update 2, patch -)".
	Version string
}

type verdictRow struct {
	N int
	// VM names the file's VM, "(check)" for the tool's check files,
	// "(host)" for host artifacts, "-" for none.
	VM   string
	File File
}

type outputRow struct {
	Artifact
	// Exit is the exit status, "not run" or "-".
	Exit string
	// Sums are its output's hashes, in algorithm order.
	Sums []algSum
}

type algSum struct{ Alg, Hex string }

// sums writes hashes on one line: "md5 ...; sha256 ...".
func sums(s []algSum) string {
	var parts []string
	for _, a := range s {
		parts = append(parts, a.Alg+" "+a.Hex)
	}
	return strings.Join(parts, "; ")
}

type verifyRow struct {
	Verify
	// Result is passed, the case verdict it found (INCOMPLETE, FAIL), or
	// FAILED for records that predate verdicts.
	Result string
	// Scope is what it checked: "(log seq 31; checked 5 files and the
	// log up to seq 30); 2 record(s) added since".
	Scope string
	// Findings are its failures, one line each.
	Findings []string
}

func newView(r *Report) *view {
	v := &view{Report: r, Result: "PASS", Times: "offset not recorded; all times are UTC"}
	if !r.Summary.OK {
		v.Result = "ATTENTION"
	}
	if r.Case.UTCOffset != "" {
		v.Times = "UTC" + r.Case.UTCOffset + "; times are UTC, with local time in brackets"
	}
	for _, h := range r.Hosts {
		ver := strings.TrimSpace(h.Product + " " + h.Version)
		if h.Build > 0 {
			ver += fmt.Sprintf(" build-%d", h.Build)
		}
		v.HostRows = append(v.HostRows, hostRow{Host: h, Version: fmt.Sprintf("%s (update %s, patch %s)", ver, update(h.Update), update(h.Patch))})
	}
	for _, vm := range r.VMs {
		for _, f := range vm.Files {
			name := vm.Name
			switch {
			case name != "":
			case f.Kind == KindCheck:
				name = "(check)"
			default:
				name = "-"
			}
			v.Verdicts = append(v.Verdicts, verdictRow{N: len(v.Verdicts) + 1, VM: name, File: f})
		}
	}
	for _, f := range r.Artifacts.Files {
		v.Verdicts = append(v.Verdicts, verdictRow{N: len(v.Verdicts) + 1, VM: "(host)", File: f})
	}
	for _, a := range r.Artifacts.Outputs {
		o := outputRow{Artifact: a, Exit: "-"}
		switch {
		case a.NotRun:
			o.Exit = "not run"
		case a.ExitStatus != nil:
			o.Exit = fmt.Sprint(*a.ExitStatus)
		}
		for _, k := range sortedKeys(a.Hashes) {
			o.Sums = append(o.Sums, algSum{k, a.Hashes[k]})
		}
		v.Outputs = append(v.Outputs, o)
	}
	for _, vr := range r.Verifies {
		row := verifyRow{Verify: vr, Result: verifyResult(&vr),
			Scope: fmt.Sprintf("(log seq %d; checked %d files and the log up to seq %d)", vr.Seq, vr.Files, vr.HeadSeq)}
		if vr.After > 0 {
			row.Scope += fmt.Sprintf("; %d record(s) added since", vr.After)
		}
		for _, f := range vr.Failures {
			row.Findings = append(row.Findings, f.String())
		}
		v.VerifyRows = append(v.VerifyRows, row)
	}
	if n := len(v.VerifyRows); n > 0 {
		v.Last = &v.VerifyRows[n-1]
	}
	if r.Fleet != nil {
		v.FleetLine, v.NotVerified = FleetLine(r.Fleet), notVerified(r.Summary.Counts)
		for _, h := range r.Fleet.Hosts {
			v.HostViews = append(v.HostViews, newHostView(h))
		}
	}
	return v
}

func newHostView(h HostSection) hostView {
	hv := hostView{HostSection: h, Line: HostLine(h.HostTally), Addresses: orDash(strings.Join(h.Addrs, ", ")), RunIDs: orDash(strings.Join(h.Runs, ", "))}
	if h.Status == custody.HostRefused {
		hv.Refusal = "Refused, and why: " + h.Refused + ". Nothing on this host was touched: the case records no SSH session, command, service change, mount or copy on it."
		if h.Touched {
			hv.Refusal = "Refused, and why: " + h.Refused + ". The case records actions on this host all the same (see below)."
		}
	}
	for _, ch := range h.ServiceChanges {
		row := changeRow{ServiceChange: ch, Before: serviceState(ch.ServiceChange.Before), After: "NOT KNOWN"}
		if ch.ServiceChange.After != nil {
			row.After = serviceState(*ch.ServiceChange.After)
		}
		hv.Changes = append(hv.Changes, row)
	}
	for _, g := range h.Groups {
		for _, f := range g.Files {
			hv.Files = append(hv.Files, verdictRow{N: len(hv.Files) + 1, VM: cmp.Or(g.Name, "-"), File: f})
		}
	}
	return hv
}

// verifyResult names a recorded verification's outcome: passed, or the
// case verdict it found (INCOMPLETE, FAIL), FAILED for records that
// predate verdicts.
func verifyResult(v *Verify) string {
	switch {
	case v.OK:
		return "passed"
	case v.Verdict != "":
		return v.Verdict
	}
	return "FAILED"
}
