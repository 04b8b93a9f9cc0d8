package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/orchestrator"
	"github.com/esxsink/esxsink/vsphere"
)

// vcenterTriageFlags choose the hosts whose vCenter-side evidence triage
// --vcenter keeps, and the period of their events and tasks.
func vcenterTriageFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "esx-host", Usage: "with --vcenter: keep the evidence of this host, by its inventory name (repeatable)"},
		&cli.StringSliceFlag{Name: "cluster", Usage: "with --vcenter: keep the evidence of this cluster's hosts (repeatable)"},
		&cli.BoolFlag{Name: "all", Usage: "with --vcenter: keep the evidence of every host the endpoint manages"},
		sinceFlag("with --vcenter"),
	}
}

// sinceFlag is --since: how far back the vCenter events and tasks kept go.
func sinceFlag(with string) cli.Flag {
	return &cli.StringFlag{Name: "since", Usage: with + ": read vCenter's events and tasks from this far back: days (30d), weeks (2w), hours (36h), a date (2026-11-01, UTC) or a time (default: 30d, what vCenter keeps by default)"}
}

// runTriage is triage: of one host over SSH (collect --host-artifacts
// without VMs), or with --vcenter the vCenter-side evidence.
func runTriage(c *cli.Context) error {
	if c.String("vcenter") != "" {
		return runVCenterTriage(c)
	}
	for _, flag := range []string{"esx-host", "cluster", "all", "since"} {
		if c.IsSet(flag) {
			return usageError(fmt.Errorf("--%s goes with --vcenter (triage of one --host collects no VM)", flag))
		}
	}
	return runCollect(c)
}

// runVCenterTriage is triage --vcenter: it reads the selected hosts'
// vCenter-side evidence through the API, changing nothing, and keeps it
// in the case.
func runVCenterTriage(c *cli.Context) (err error) {
	if c.String("host") != "" {
		return usageError(errors.New("give --host (triage one ESXi host over SSH) or --vcenter (the vCenter-side evidence), not both"))
	}
	for _, flag := range []string{"dry-run", "sink", "json", "json-events"} {
		if c.IsSet(flag) {
			return usageError(fmt.Errorf("--%s is not available with triage --vcenter, which only reads the API", flag))
		}
	}
	sel := vsphere.FleetSelection{All: c.Bool("all"), Clusters: c.StringSlice("cluster"), Hosts: c.StringSlice("esx-host")}
	if !sel.All && len(sel.Clusters) == 0 && len(sel.Hosts) == 0 {
		return usageError(errors.New("say whose evidence to keep: --all (every host), --esx-host NAME or --cluster NAME (repeatable)"))
	}
	period, err := vsphere.ParseSince(c.String("since"), time.Now())
	if err != nil {
		return usageError(err)
	}
	logger, err := newLogger(c.String("log-level"), c.App.ErrWriter)
	if err != nil {
		return usageError(err)
	}
	caseDir := c.String("case")
	if caseDir == "" {
		return usageError(errors.New("--case is required (where the evidence and the custody log go)"))
	}
	ctx, stop := interruptible(c.Context)
	defer stop()
	log, err := openCase(c, caseDir)
	if err != nil {
		return err
	}
	defer log.Close()
	runID := orchestrator.NewRunID()
	endpoint := c.String("vcenter")
	started := false
	defer func() {
		if err != nil && !started {
			_, _ = log.Append(custody.TypeRunFailed, custody.Step{Host: endpoint, RunID: runID, Kind: custody.KindVCenterTriage, Error: err.Error()})
		}
	}()
	client, err := dialVCenter(ctx, c, log, runID, logger)
	if err != nil {
		return err
	}
	defer client.Close(context.WithoutCancel(ctx))
	endpoint = client.Connected().Endpoint
	inv, err := client.Inventory(ctx)
	if err != nil {
		return err
	}
	hosts, err := inv.SelectHosts(sel)
	if err != nil {
		return usageError(err)
	}
	var names []string
	for _, h := range hosts {
		names = append(names, h.Name)
	}
	begin := time.Now()
	if _, err := log.Append(custody.TypeAcquisitionStarted, custody.Step{Host: endpoint, RunID: runID, Kind: custody.KindVCenterTriage,
		Note: fmt.Sprintf("triage --vcenter: the vCenter-side evidence of hosts %s, events and tasks since %s", strings.Join(names, ", "), period.Since.Format(time.RFC3339))}); err != nil {
		return err
	}
	started = true
	kept, missed, err := keepVCenterEvidence(ctx, client, log, caseDir, runID, vsphere.EvidenceRequest{Hosts: names, Period: period, Inventory: inv})
	fin := custody.Step{Host: endpoint, RunID: runID, Kind: custody.KindVCenterTriage, Files: len(kept), Failed: len(missed)}
	switch {
	case err != nil:
		fin.Error = err.Error()
	case len(missed) > 0:
		fin.Error = fmt.Sprintf("%d part(s) of the vCenter-side evidence not collected", len(missed))
	}
	if _, aerr := log.Append(custody.TypeAcquisitionFinished, fin); aerr != nil && err == nil {
		err = aerr
	}
	w := c.App.Writer
	printKept(w, kept, missed)
	cl := closing{Command: "triage --vcenter", CaseDir: caseDir, Duration: time.Since(begin), NotCollected: missed, Failed: err != nil || len(missed) > 0, Kept: kept}
	cl.Counts.NotCollected = len(missed)
	for _, k := range kept {
		cl.Counts.Files, cl.Counts.Bytes = cl.Counts.Files+1, cl.Counts.Bytes+k.Size
		if k.Intact() {
			cl.Counts.Verified++
		} else {
			cl.Counts.Failed++ // as collect counts a copy that did not verify
		}
	}
	cl.HeadSeq, cl.Head = log.Head()
	printClosing(w, cl)
	if err == nil && len(missed) > 0 {
		err = fmt.Errorf("%d part(s) of the vCenter-side evidence could not be read (see NOT COLLECTED above): the case says so; fix what each names and run triage --vcenter again into this case", len(missed))
	}
	if err != nil {
		return cli.Exit(withAdvice(err), 1)
	}
	return nil
}

// keepVCenterEvidence reads the vCenter-side evidence req names and keeps
// each part in the case, under vcenter/<UTC time>-<run id>/, written once,
// synced and recorded with its SHA-256 (evidence.kept). A part that
// cannot be read, or not be written into the case, or that an interrupt
// (Ctrl-C) left unread, is recorded as not collected
// (evidence.not_collected) with why and what to do: every part is
// accounted for. The error says the run was interrupted, or is for what
// stops it: a custody log that refuses a record, a kept file that
// re-reads otherwise than it was written (recorded as such).
func keepVCenterEvidence(ctx context.Context, client *vsphere.Client, log hashlog.Appender, caseDir, runID string, req vsphere.EvidenceRequest) (kept []custody.Kept, missed []custody.Uncollected, err error) {
	endpoint := client.Connected().Endpoint
	folder := path.Join(custody.VCenterFolder, time.Now().UTC().Format("20060102T150405Z")+"-"+runID)
	notCollected := func(name, rel, why string) error {
		u := custody.Uncollected{Host: endpoint, RunID: runID, What: custody.WhatVCenterEvidence, Name: name, Path: rel, Missed: true, Why: why}
		if _, err := log.Append(custody.TypeNotCollected, u); err != nil {
			return err
		}
		missed = append(missed, u)
		return nil
	}
	for _, p := range client.Evidence(ctx, req) {
		name, file := p.Name, p.Name+".json"
		if p.Host != "" {
			name, file = p.Name+" of "+p.Host, p.Name+"/"+orchestrator.SafeName(p.Host)+".json"
		}
		rel := path.Join(folder, file)
		var data []byte
		switch {
		case ctx.Err() != nil:
			err = notCollected(name, rel, fmt.Sprintf("%s not read: the run was interrupted (%v); run triage --vcenter again into this case", name, ctx.Err()))
		case p.Err != nil:
			err = notCollected(name, rel, fmt.Sprintf("%s could not be read (%s): %v", name, p.What, p.Err))
		default:
			if data, err = vsphere.StableJSON(p.Value); err != nil {
				err = notCollected(name, rel, fmt.Sprintf("%s was read but could not be encoded: %v", name, err))
				data = nil
			}
		}
		if err != nil {
			return kept, missed, err
		}
		if data == nil {
			continue
		}
		rec, kerr := hashlog.Keep(log, caseDir, data, custody.Kept{Path: rel, Source: endpoint, Name: name, What: p.What, Why: p.Why, RunID: runID})
		if rec.Hash == "" {
			// Not recorded: the case does not hold it.
			if err := notCollected(name, rel, fmt.Sprintf("%s was read but could not be kept in the case: %v; free the case's disk or fix its folder, then run again", name, kerr)); err != nil {
				return kept, missed, errors.Join(kerr, err)
			}
			continue
		}
		var k custody.Kept
		if err := rec.Decode(&k); err != nil {
			return kept, missed, err
		}
		kept = append(kept, k)
		if kerr != nil {
			return kept, missed, kerr
		}
	}
	if ctx.Err() != nil {
		return kept, missed, fmt.Errorf("interrupted: %d part(s) of the vCenter-side evidence kept, %d recorded as not collected: %w", len(kept), len(missed), ctx.Err())
	}
	return kept, missed, nil
}

// printKept lists the vCenter-side evidence kept, with each file's
// SHA-256 as recorded, and what could not be read.
func printKept(w io.Writer, kept []custody.Kept, missed []custody.Uncollected) {
	if len(kept)+len(missed) == 0 {
		return
	}
	fmt.Fprintf(w, "\nvCenter-side evidence:\n")
	for _, k := range kept {
		state := "kept"
		if !k.Intact() {
			state = "MISMATCH" // re-read from disk, it is not what was written
		}
		fmt.Fprintf(w, "%-14s %-22s %10s  %s  %s\n", state, k.Name, humanBytes(k.Size), k.SHA256, k.Path)
	}
	for _, u := range missed {
		fmt.Fprintf(w, "NOT COLLECTED  %-22s %s\n", u.Name, u.Why)
	}
}
