package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/orchestrator"
)

// closing is collect's closing statement: what happened to every planned
// file, and what to do next.
type closing struct {
	Counts   custody.Counts
	Duration time.Duration
	CaseDir  string
	HeadSeq  int64
	Head     string
	// NotCollected is what the host holds that this run left.
	NotCollected []custody.Uncollected
	Failed       bool // the run did not end with every planned file acquired
	Cleanup      []string
	// Undone is what the run undid on the host; Anomalies what it found
	// changed under it by someone else.
	Undone, Anomalies []string
	// Refused names the hosts of a fleet run left untouched, with why.
	Refused []string
	// HostTally counts a fleet case's hosts by what became of them, and
	// Hosts says each host not refused in one line, as esxsink report
	// does (both from the case's custody log).
	HostTally string
	Hosts     []string
	// Kept are the files read through the vSphere API and kept in the
	// case (vCenter-side evidence).
	Kept []custody.Kept
	// Command names the run in the heading ("" is collect).
	Command string
}

// headReader is a custody log that can say its head (a local case; a
// running serve's log is read through esxsink status).
type headReader interface{ Head() (int64, string) }

func closingOf(rep *orchestrator.Outcome, plan *orchestrator.Plan, caseDir string, d time.Duration, err error, log orchestrator.Recorder) closing {
	cl := closing{Duration: d, CaseDir: caseDir, Failed: err != nil}
	if plan != nil {
		cl.NotCollected = plan.NotCollected
		for _, it := range plan.Items {
			if it.Method == orchestrator.MethodSkip {
				cl.Counts.Skipped++
			}
		}
		cl.Counts.NotCollected = len(plan.NotCollected)
	}
	if rep != nil {
		cl.Cleanup, cl.Undone, cl.Anomalies = rep.Cleanup, rep.Undone, rep.Anomalies
		for _, f := range rep.Files {
			cl.Counts.Files++
			cl.Counts.Bytes += f.Size
			switch {
			case f.Verified:
				cl.Counts.Verified++
			case f.CopiedLive:
				cl.Counts.CopiedLive++
			case f.NotStarted:
				cl.Counts.NotStarted++
			default:
				cl.Counts.Failed++
			}
		}
	}
	if h, ok := log.(headReader); ok {
		cl.HeadSeq, cl.Head = h.Head()
	}
	return cl
}

// printClosing writes the closing statement as one block.
func printClosing(w io.Writer, cl closing) {
	c := cl.Counts
	command := cl.Command
	if command == "" {
		command = "collect"
	}
	fmt.Fprintf(w, "\n== esxsink %s: %s ==\n", command, map[bool]string{true: "NOT COMPLETE", false: "complete"}[cl.Failed || len(cl.Refused) > 0])
	fmt.Fprintf(w, "  verified       %d\n  copied live    %d\n  failed         %d\n  not started    %d\n  skipped        %d\n  not collected  %d\n",
		c.Verified, c.CopiedLive, c.Failed, c.NotStarted, c.Skipped, c.NotCollected)
	fmt.Fprintf(w, "  bytes          %s in %s\n", humanBytes(c.Bytes), cl.Duration.Round(time.Second))
	if len(cl.Kept) > 0 {
		var size int64
		for _, k := range cl.Kept {
			size += k.Size
		}
		fmt.Fprintf(w, "  kept from API  %d file(s), %s, under %s (vCenter-side evidence, each SHA-256 in the custody log)\n", len(cl.Kept), humanBytes(size), keptFolder(cl.Kept[0].Path))
	}
	if cl.Head != "" {
		fmt.Fprintf(w, "  custody log    head seq %d sha256 %s (write it down)\n", cl.HeadSeq, cl.Head)
	}
	fmt.Fprintf(w, "  case           %s\n", cl.CaseDir)
	if cl.HostTally != "" {
		fmt.Fprintf(w, "  hosts          %s\n", cl.HostTally)
	}
	for _, h := range cl.Hosts {
		fmt.Fprintf(w, "  host           %s\n", h)
	}
	for _, r := range cl.Refused {
		fmt.Fprintf(w, "  REFUSED HOST   %s\n", r)
	}
	if len(cl.NotCollected) > 0 {
		fmt.Fprintf(w, "  found, not collected:\n")
		for _, n := range cl.NotCollected {
			// The option that would collect it, else why nothing can
			// (a refused host, a host that does not have the VM).
			why := n.Flag
			if why == "" {
				why = n.Why
			}
			fmt.Fprintf(w, "    %-16s %s  (%s)\n", n.What, hashlog.QuoteIfNeeded(strings.TrimSpace(n.Name+" "+n.Path)), why)
		}
	}
	for _, u := range cl.Undone {
		fmt.Fprintf(w, "  undone         %s\n", u)
	}
	for _, e := range cl.Cleanup {
		fmt.Fprintf(w, "  NOT UNDONE     %s\n", e)
	}
	for _, a := range cl.Anomalies {
		fmt.Fprintf(w, "  ANOMALY        %s\n", a)
	}
	var next []string
	if c.Failed+c.NotStarted > 0 {
		next = append(next, "run the same collect with --resume to acquire what is missing")
	}
	if len(cl.Cleanup) > 0 {
		next = append(next, "run esxsink cleanup on this host: not everything was undone")
	}
	next = append(next, "esxsink verify "+cl.CaseDir, "esxsink report "+cl.CaseDir)
	fmt.Fprintf(w, "  next           %s\n", strings.Join(next, "\n                 "))
}

// keptFolder is the run's folder of a kept file: vcenter/<time>-<run>.
func keptFolder(p string) string {
	parts := strings.SplitN(p, "/", 3)
	return strings.Join(parts[:min(2, len(parts))], "/")
}
