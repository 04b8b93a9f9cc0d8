package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/orchestrator"
	"github.com/esxsink/esxsink/vsphere"
)

// sshLeftover is a host's TSM-SSH as a fleet run found it (Want) and as
// the run's last recorded change left it (Left; nil when the change
// could not be read back), when the two differ: a run that ended without
// restoring it (killed, power lost).
type sshLeftover struct {
	Host, RunID, Endpoint string
	Want                  custody.ServiceState
	Left                  *custody.ServiceState
}

// sshLeftovers reads the case's host.service_changed records: per run
// and host, the state before the first change and after the last.
func sshLeftovers(recs []custody.Record) ([]sshLeftover, error) {
	type key struct{ run, host string }
	var order []key
	first := map[key]custody.ServiceChange{}
	last := map[key]custody.ServiceChange{}
	for _, rec := range recs {
		if rec.Type != custody.TypeHostServiceChanged {
			continue
		}
		var ch custody.ServiceChange
		if err := rec.Decode(&ch); err != nil {
			return nil, fmt.Errorf("custody log line %d: %w", rec.Line, err)
		}
		k := key{ch.RunID, ch.Host}
		if _, ok := first[k]; !ok {
			first[k] = ch
			order = append(order, k)
		}
		last[k] = ch
	}
	var out []sshLeftover
	for _, k := range order {
		f, l := first[k], last[k]
		if l.After != nil && *l.After == f.Before {
			continue
		}
		out = append(out, sshLeftover{Host: k.host, RunID: k.run, Endpoint: f.Endpoint, Want: f.Before, Left: l.After})
	}
	return out, nil
}

// runVCenterCleanup is cleanup --vcenter: the hosts whose SSH service a
// fleet run into --case changed and did not put back get it back, unless
// someone changed it since.
func runVCenterCleanup(c *cli.Context) error {
	ctx := c.Context
	caseDir := c.String("case")
	if caseDir == "" {
		return usageError(errors.New("cleanup --vcenter reads what a fleet run changed from its case: give --case CASE"))
	}
	logger, err := newLogger(c.String("log-level"), c.App.ErrWriter)
	if err != nil {
		return usageError(err)
	}
	recs, _, err := hashlog.ReadLog(hashlog.LogPath(caseDir))
	if err != nil {
		return fmt.Errorf("read the custody log of %s: %w", caseDir, err)
	}
	lefts, err := sshLeftovers(recs)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if len(lefts) == 0 {
		fmt.Fprintln(w, "every SSH service the case's runs changed was put back")
		return nil
	}
	var rec orchestrator.Recorder
	if !c.Bool("dry-run") {
		// Opening the case for appending also refuses while a collect
		// still holds it: its own restore is under way.
		log, err := openCase(c, caseDir)
		if err != nil {
			return err
		}
		defer log.Close()
		rec = log
	}
	// The restores are recorded under the run that made the changes, so
	// that its records end with the service as it found it.
	clients := map[string]*vsphere.Client{}
	defer func() {
		for _, cl := range clients {
			cl.Close(context.WithoutCancel(ctx))
		}
	}()
	failed := false
	for _, l := range lefts {
		client := clients[l.RunID]
		if client == nil {
			if client, err = dialVCenter(ctx, c, rec, l.RunID, logger); err != nil {
				return err
			}
			clients[l.RunID] = client
		}
		now, err := client.HostSSHService(ctx, l.Host)
		switch {
		case err != nil:
			failed = true
			fmt.Fprintf(w, "REFUSED:    TSM-SSH on %s (run %s): %v\n", l.Host, l.RunID, err)
		case now == l.Want:
			fmt.Fprintf(w, "as found:   TSM-SSH on %s (run %s) is running=%v policy=%s, as the run found it\n", l.Host, l.RunID, now.Running, now.Policy)
		case l.Left != nil && now != *l.Left:
			fmt.Fprintf(w, "left alone: TSM-SSH on %s (run %s) is running=%v policy=%s: changed since the run left it (running=%v policy=%s), not by us\n",
				l.Host, l.RunID, now.Running, now.Policy, l.Left.Running, l.Left.Policy)
		case c.Bool("dry-run"):
			fmt.Fprintf(w, "to restore: TSM-SSH on %s (run %s) to running=%v policy=%s (now running=%v policy=%s)\n", l.Host, l.RunID, l.Want.Running, l.Want.Policy, now.Running, now.Policy)
		default:
			if _, err := client.RestoreSSH(ctx, l.Host, l.Want); err != nil {
				failed = true
				fmt.Fprintf(w, "REFUSED:    TSM-SSH on %s (run %s): %v\n", l.Host, l.RunID, err)
				continue
			}
			fmt.Fprintf(w, "undone:     TSM-SSH on %s (run %s) restored to running=%v policy=%s\n", l.Host, l.RunID, l.Want.Running, l.Want.Policy)
		}
	}
	if c.Bool("dry-run") {
		fmt.Fprintln(w, "dry run: nothing was changed on any host")
	}
	if failed {
		return cli.Exit("not every SSH service could be restored: see above", 1)
	}
	return nil
}
