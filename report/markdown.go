package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes the report as Markdown (GitHub tables), for case
// management systems and plain-text review. It states what the HTML
// states, in the same order.
func (r *Report) WriteMarkdown(w io.Writer) error {
	f := newFormatter(r.Case.UTCOffset)
	b := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	row := func(cells ...string) {
		for i := range cells {
			cells[i] = mdCell(cells[i])
		}
		p("| %s |\n", strings.Join(cells, " | "))
	}
	head := func(cells ...string) {
		row(cells...)
		p("|%s\n", strings.Repeat(" --- |", len(cells)))
	}

	p("# Forensic acquisition report: case %s\n\n", mdText(r.Case.ID))
	result := "PASS"
	if !r.Summary.OK {
		result = "ATTENTION"
	}
	p("**RESULT: %s** – %s\n\n", result, mdText(r.Summary.Statement))

	p("## 1. Case\n\n")
	head("Item", "Value")
	row("Case id", r.Case.ID)
	row("Examiner", r.Case.Examiner)
	row("Case opened", f.when(r.Case.Opened))
	row("Acquisition tool", r.Case.ToolVersion+" ("+r.Case.OS+")")
	row("Sink (examiner's workstation)", r.Case.SinkHost)
	off := "offset not recorded; all times are UTC"
	if r.Case.UTCOffset != "" {
		off = "UTC" + r.Case.UTCOffset + "; times are UTC, with local time in brackets"
	}
	row("Examiner's local time", off)
	row("Case folder", r.CaseDir)
	if r.Case.EvidenceNumber != "" {
		row("Evidence number", r.Case.EvidenceNumber)
	}
	if r.Case.Description != "" {
		row("Description", r.Case.Description)
	}
	if r.Case.Notes != "" {
		row("Notes", r.Case.Notes)
	}
	for _, s := range r.Case.Sessions {
		row("Session ("+f.when(s.Time)+")", s.Examiner+": "+strings.Join(s.Command, " "))
	}

	p("\n## 2. Summary\n\n")
	head("Item", "Value")
	row("Evidence files", fmt.Sprintf("%d (%s)", r.Summary.Files, size(r.Summary.Bytes)))
	row("Verdict", r.Summary.Verdict+": "+r.Summary.Counts.String())
	row("Verified", fmt.Sprint(r.Summary.Verified))
	row("Copied live", fmt.Sprint(r.Summary.CopiedLive))
	if r.Summary.Received > 0 {
		row("Received (no host hash)", fmt.Sprint(r.Summary.Received))
	}
	row("Mismatch / failed / not verified", fmt.Sprintf("%d / %d / %d", r.Summary.Mismatch, r.Summary.Failed, r.Summary.NotVerified))
	row("Not started", fmt.Sprint(r.Summary.NotStarted))
	row("Superseded attempts", fmt.Sprint(r.Summary.Superseded))
	row("Planned files skipped", fmt.Sprint(r.Summary.Skipped))
	row("Found but not collected", fmt.Sprint(r.Summary.NotCollected))
	row("Anomalies and refusals", fmt.Sprint(r.Summary.Anomalies))
	row("Commands run on the host", fmt.Sprint(len(r.Commands)))
	row("Custody log head", fmt.Sprintf("seq %d, SHA-256 %s", r.Log.HeadSeq, r.Log.Head))
	row("Last verification", verifyLine(f, lastVerify(r.Verifies)))

	p("\n## 3. ESXi host\n\n")
	if len(r.Hosts) == 0 {
		p("No ESXi host is recorded in this case (evidence was received by the sink only).\n")
	}
	for _, h := range r.Hosts {
		head("Item", "Value")
		row("Address", h.Address)
		if !h.Recorded {
			row("Identity", "not recorded (no host.identified record)")
		} else {
			ver := strings.TrimSpace(h.Product + " " + h.Version)
			if h.Build > 0 {
				ver += fmt.Sprintf(" build-%d", h.Build)
			}
			row("Host name", h.Hostname)
			row("Product and version", fmt.Sprintf("%s (update %s, patch %s)", ver, update(h.Update), update(h.Patch)))
			row("SSH host key", h.HostKey+" ("+h.HostKeyType+")")
			row("Logged in as", h.User)
			row("Identified", f.when(h.Identified))
		}
		p("\n")
	}
	if len(r.Runs) > 0 {
		p("### Acquisition runs\n\n")
		head("Run", "Host", "Started", "Sink mounted as", "Detached", "Finished", "Files", "Failed", "Error")
		for _, run := range r.Runs {
			row(run.ID, run.Host, f.when(run.Started), run.Label, f.when(run.Unmounted), f.when(run.Finished), fmt.Sprint(run.Files), fmt.Sprint(run.Failed), run.Error)
		}
	}

	p("\n## 4. Verdicts\n\n")
	head("#", "VM", "Evidence file", "Size (bytes)", "MD5 (sink)", "Verdict")
	n := 0
	for _, vm := range r.VMs {
		for _, fl := range vm.Files {
			n++
			name := orDash(vm.Name)
			if fl.Kind == KindCheck {
				name = "(check)"
			}
			row(fmt.Sprint(n), name, fl.Path, fmt.Sprint(fl.Size), sinkMD5(fl), "**"+string(fl.Verdict)+"**")
		}
	}
	for _, fl := range r.Artifacts.Files {
		n++
		row(fmt.Sprint(n), "(host)", fl.Path, fmt.Sprint(fl.Size), sinkMD5(fl), "**"+string(fl.Verdict)+"**")
	}

	p("\n## 5. Evidence files in detail\n")
	for _, vm := range r.VMs {
		p("\n### %s\n", mdText(vm.Title))
		for _, fl := range vm.Files {
			mdFile(b, f, fl)
		}
	}

	p("\n## 6. Snapshots taken to freeze running VMs\n\n")
	if len(r.Snapshots) == 0 {
		p("None: no running VM needed a snapshot.\n")
	} else {
		head("VM", "Snapshot name", "Id", "Created", "Removed")
		for _, s := range r.Snapshots {
			removed := f.when(s.Removed)
			if s.Removed.IsZero() {
				removed = "**NOT REMOVED** " + s.CleanupError
			}
			row(fmt.Sprintf("%s (vmid %d)", s.VM, s.VMID), s.Name, fmt.Sprint(s.ID), f.when(s.Created), removed)
		}
	}
	p("\n## 7. Files not copied\n\n")
	if len(r.Skipped) == 0 {
		p("None: every planned file was copied.\n")
	} else {
		head("VM", "Source on the host", "Size (bytes)", "Why")
		for _, s := range r.Skipped {
			row(s.VM, s.Source, fmt.Sprint(s.Size), s.Why)
		}
	}
	p("\n### Found on the host but not collected\n\n")
	if len(r.NotCollected) == 0 {
		p("None recorded.\n")
	} else {
		head("What", "Name", "Path on the host", "Size (bytes)", "Why", "Collect it with")
		for _, n := range r.NotCollected {
			row(n.Kind, n.VM, n.Source, fmt.Sprint(n.Size), n.Reason, n.Flag)
		}
	}
	if len(r.Clocks) > 0 {
		p("\n### The host's clock\n\n")
		head("When", "Host", "Host time", "Workstation time (UTC)", "Offset (s, host − workstation)", "Round trip (ms)")
		for _, c := range r.Clocks {
			row(c.When, c.Host, c.HostTime, c.WorkstationAt, fmt.Sprint(c.OffsetSeconds), fmt.Sprint(c.RoundTripMS))
		}
	}
	p("\n## 8. Host artifacts\n\n")
	if len(r.Artifacts.Outputs)+len(r.Artifacts.Files) == 0 {
		p("None collected.\n")
	} else {
		if len(r.Artifacts.Outputs) > 0 {
			head("Name", "Command", "Exit", "Output file", "Hashes", "Time")
			for _, a := range r.Artifacts.Outputs {
				exit := "-"
				switch {
				case a.NotRun:
					exit = "not run"
				case a.ExitStatus != nil:
					exit = fmt.Sprint(*a.ExitStatus)
				}
				if a.Note != "" {
					exit += ": " + a.Note
				}
				var hs []string
				for _, k := range sortedKeys(a.Hashes) {
					hs = append(hs, k+" "+a.Hashes[k])
				}
				row(a.Name, a.Command, exit, a.Output, strings.Join(hs, "; "), f.when(a.Time))
			}
		}
		for _, fl := range r.Artifacts.Files {
			mdFile(b, f, fl)
		}
	}

	p("\n## 9. Anomalies, refusals and failures\n\n")
	if len(r.Anomalies) == 0 {
		p("None recorded: the sink refused nothing and noted no anomaly.\n")
	} else {
		head("Log line", "Time", "Kind", "What")
		for _, e := range r.Anomalies {
			row(fmt.Sprint(e.Line), f.when(e.Time), e.Kind, e.Text)
		}
	}
	if len(r.Notes) > 0 {
		p("\n### Notes\n\n")
		head("Log line", "Time", "Note")
		for _, e := range r.Notes {
			row(fmt.Sprint(e.Line), f.when(e.Time), e.Text)
		}
	}

	p("\n## 10. Footprint on the host: every command run, in order\n\n")
	if len(r.Commands) == 0 {
		p("No command was run on a host in this case.\n")
	} else {
		head("#", "Started (UTC)", "Command", "Status", "Duration", "Stdout bytes", "Stdout SHA-256")
		for _, c := range r.Commands {
			st := c.Status
			if c.Error != "" {
				st += ": " + c.Error
			}
			row(fmt.Sprint(c.N), f.clock(c.Started), "`"+c.Command+"`", st, seconds(c.Seconds), fmt.Sprint(c.StdoutBytes), c.StdoutSHA256)
		}
	}

	p("\n## 11. Custody log and verification\n\n")
	head("Item", "Value")
	row("Custody log", r.Log.Path)
	row("Records", fmt.Sprint(r.Log.Records))
	row("Head (as this report read it)", fmt.Sprintf("seq %d, SHA-256 %s", r.Log.HeadSeq, r.Log.Head))
	chain := "intact"
	if !r.Log.ChainOK {
		chain = "**BROKEN** (see section 9)"
	}
	row("Hash chain", chain)
	p("\n")
	if len(r.Verifies) == 0 {
		p("No `esxsink verify` result is recorded in the custody log.\n")
	} else {
		head("Verified at", "Result", "Log checked up to", "Files", "Failures")
		for _, v := range r.Verifies {
			res := verifyResult(&v)
			if !v.OK {
				res = "**" + res + "**"
			}
			var fs []string
			for _, fd := range v.Failures {
				fs = append(fs, fd.String())
			}
			row(f.when(v.Time), res, fmt.Sprintf("seq %d %s", v.HeadSeq, v.Head), fmt.Sprintf("%d of %d verified", v.Verified, v.Files), orDash(strings.Join(fs, "; ")))
		}
	}
	gen := ""
	if r.Generator != "" {
		gen = " by " + r.Generator
	}
	p("\n---\nGenerated %s%s from the case folder alone. No evidence was re-hashed to make this report.\n", f.when(r.Generated), mdText(gen))
	if err := b.Flush(); err != nil {
		return fmt.Errorf("write the Markdown report: %w", err)
	}
	return nil
}

// mdFile writes one file's detail table.
func mdFile(w io.Writer, f formatter, fl File) {
	fmt.Fprintf(w, "\n#### %s – %s\n\n", mdText(fl.Path), fl.Verdict)
	fmt.Fprintf(w, "| | On the host | On arrival (sink) | At rest |\n| --- | --- | --- | --- |\n")
	for _, alg := range algorithms {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", alg, hash(fl.HostHashes, alg), hash(fl.Arrival, alg), hash(fl.AtRest, alg))
	}
	fmt.Fprintln(w)
	item := func(k, v string) { fmt.Fprintf(w, "- %s: %s\n", k, mdText(v)) }
	if fl.Source != "" {
		item("Source on the host", fl.Source)
	}
	item("Kind / method", orDash(fl.Kind)+" / "+orDash(fl.Method))
	item("Size", size(fl.Size))
	item("Recorded", fmt.Sprintf("%s (custody log line %d)", f.when(fl.Time), fl.Line))
	if !fl.CheckedAt.IsZero() {
		item("Last verified", f.when(fl.CheckedAt))
	}
	if fl.Live {
		item("WARNING", strings.TrimSpace("copied live while the VM was running, outside any snapshot: the copy may not be consistent. "+fl.Note))
	}
	for _, b := range fl.BadSectors {
		item("Bad sectors", b.String()+": unreadable on the host, zeros in the copy")
	}
	for _, e := range fl.ReadErrors {
		item("Read errors", e+" (unreadable blocks written as zeros; offsets of later data unchanged)")
	}
	for _, a := range fl.Anomalies {
		item("Sink anomaly", a)
	}
	if fl.Reason != "" {
		item("Why", fl.Reason)
	}
}

func verifyLine(f formatter, v *Verify) string {
	if v == nil {
		return "esxsink verify has not been recorded for this case"
	}
	s := fmt.Sprintf("%s at %s (log seq %d; checked %d files and the log up to seq %d)", verifyResult(v), f.when(v.Time), v.Seq, v.Files, v.HeadSeq)
	if v.After > 0 {
		s += fmt.Sprintf("; %d record(s) added since", v.After)
	}
	return s
}

// mdCell makes s safe inside a table cell: one line, pipes escaped.
func mdCell(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "|", `\|`).Replace(s)
	if s == "" {
		return " "
	}
	return s
}

// mdText keeps free text on one line.
func mdText(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
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
