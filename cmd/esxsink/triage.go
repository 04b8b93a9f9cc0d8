package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/esxsink/esxsink/orchestrator"
)

// triageOnlyDrops are collect's flags that choose VMs or devices, which a
// host triage has none of.
var triageOnlyDrops = map[string]bool{"vm": true, "all": true, "unregistered": true, "usb": true, "rdm": true, "resume": true, "host-artifacts": true, "memory": true, "independent": true}

func triageCommand() *cli.Command {
	var flags []cli.Flag
	fleet := map[string]bool{}
	for _, f := range append(vcenterFlags(), fleetFlags()...) {
		fleet[f.Names()[0]] = true
	}
	for _, f := range collectCommand().Flags {
		switch name := f.Names()[0]; {
		case triageOnlyDrops[name] || fleet[name]:
		case name == "host":
			// One host over SSH, or --vcenter.
			flags = append(flags, hostFlags()[0])
		default:
			flags = append(flags, f)
		}
	}
	flags = eitherRequired(append(append(flags, vcenterFlags()...), vcenterTriageFlags()...), "host", "vcenter")
	// collect's own code runs the triage: this is collect --host-artifacts
	// with no VM.
	flags = append(flags, &cli.BoolFlag{Name: "host-artifacts", Value: true, Hidden: true, Usage: "always on: triage is collect --host-artifacts without VMs"})
	return &cli.Command{
		Name:  "triage",
		Usage: "collect an ESXi host's own state for incident response (logs, /etc, crontab, shell history, command outputs), or with --vcenter the vCenter-side evidence",
		Description: `Runs read-only triage commands on the host (version, accounts, permissions, VIBs and the
acceptance level, advanced and kernel settings including execInstalledOnly, syslog, modules,
network interfaces, connections, ARP, firewall, processes, open files, storage, VM inventory);
each output is kept under CASE/host-commands with its SHA-256 in the custody log, named by a
triage.output record. A command the host lacks is a note, not a failure. Then it copies
/var/log, /var/run/log, /scratch/log, /etc, root's crontab, /.ash_history and /var/run/bootTime
through the embedded sink exactly as collect copies VM files (dd | tee | md5sum, host = sink =
at-rest hashes) into CASE/evidence/host-artifacts/files/<path on the host>. Live logs are
copied up to their size when their copy started. Same as esxsink collect --host-artifacts without VMs.

With --vcenter instead of --host (and --all, --esx-host or --cluster to choose hosts): reads,
through the vSphere API only, what vCenter knows of those hosts, and keeps it in
CASE/vcenter/<UTC time>-<run>/ as stable JSON: the inventory as read, the events and tasks of
the hosts and their VMs over --since (default 30 days, vCenter's default retention), the
endpoint-wide logins, failed logins and changes to accounts, roles and permissions, every
role and permission, the sessions open now (keys kept only as SHA-256), and each host's
forensic advanced settings (UserVars, Syslog, execInstalledOnly, Security, the ESX Admins
group, the MOB, banners). Each file is written once, synced, and recorded with its SHA-256
(evidence.kept), so esxsink verify re-hashes it. A part that cannot be read (a privilege the
user lacks, an API the endpoint does not offer) is recorded as NOT COLLECTED with why, and
triage exits 1. It changes nothing and does not log in to the hosts: no SSH service is
started. To add the hosts' own artifacts (logs, /etc, command outputs) in the same case, use
esxsink collect --vcenter --host-artifacts, which keeps this vCenter-side evidence too.`,
		Flags:  flags,
		Action: runTriage,
	}
}

// hostArtifacts runs the triage when --host-artifacts is set and adds its
// files, under folder of the evidence folder, to plan (when not nil); in
// a dry run it only lists the files.
func hostArtifacts(ctx context.Context, c *cli.Context, r *orchestrator.Runner, log orchestrator.Recorder, plan *orchestrator.Plan, host, folder string, logger *slog.Logger) (*orchestrator.TriageResult, error) {
	if !c.Bool("host-artifacts") {
		return nil, nil
	}
	o := orchestrator.TriageOptions{Runner: r, Host: host, Folder: folder, ListOnly: c.Bool("dry-run"), Logger: logger}
	if log != nil {
		o.Log = log
	}
	tri, err := orchestrator.Triage(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("host triage: %w", err)
	}
	if plan != nil {
		plan.AddTriage(tri)
	}
	return tri, nil
}

// printTriage lists the triage's command outputs and what it noted; the
// copied files are in the report above it.
func printTriage(w io.Writer, tri *orchestrator.TriageResult) {
	if tri == nil {
		return
	}
	fmt.Fprintf(w, "\nhost triage: %s, %d commands, %d files listed under %s\n", tri.Host, len(tri.Outputs), len(tri.Items), tri.Folder+"/files")
	for _, o := range tri.Outputs {
		state := "ok"
		switch {
		case !o.Ran:
			state = "missing"
		case o.Note != "":
			state = "noted"
		}
		sum := o.StdoutSHA256
		if len(sum) > 16 {
			sum = sum[:16]
		}
		fmt.Fprintf(w, "%-8s %-55s %-16s  %s\n", state, o.Name, sum, o.StdoutFile)
		if o.Note != "" {
			fmt.Fprintf(w, "         %s\n", o.Note)
		}
	}
	for _, l := range tri.Links {
		fmt.Fprintf(w, "link     %s -> %s (copied as %s)\n", l.Path, l.Target, l.Dest)
	}
	for _, m := range tri.Missing {
		fmt.Fprintf(w, "absent   %s\n", m)
	}
	for _, n := range tri.Notes {
		fmt.Fprintf(w, "note     %s\n", n)
	}
}
