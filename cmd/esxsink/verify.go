package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/hashlog"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "re-hash every evidence file at rest and re-walk the custody log's hash chain",
		ArgsUsage: "CASE",
		Description: `Exit status:
  0  complete and intact: at least one evidence file, every one whole and unchanged,
     every planned copy done, every run finished and the host left as found
  1  integrity failure: a changed, missing or unlogged file, hashes that disagree,
     a broken custody log (with a precise list: file, piece, log line)
  3  intact but incomplete: a failed, partial or never started copy, a run that was
     cut off, a snapshot not removed, or nothing acquired at all
  2  usage error (e.g. CASE is not a case folder)

The result is appended to the custody log as a case.verified record (what was checked,
the log head read, the files that failed), which esxsink report states; --no-record
leaves the log untouched, e.g. for a write-protected copy of the case.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-record", Usage: "do not append the result to the custody log (a write-protected copy of the case)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError(errors.New("usage: esxsink verify CASE"))
			}
			caseDir := c.Args().First()
			rep, err := hashlog.VerifyCase(c.Context, caseDir)
			if err != nil {
				if errors.Is(err, hashlog.ErrNotCase) {
					return usageError(err)
				}
				return err
			}
			if _, err := rep.WriteTo(c.App.Writer); err != nil {
				return err
			}
			if !c.Bool("no-record") {
				// The check stands without the record: a log that cannot be
				// written is reported, not a reason to change the verdict.
				if rec, err := hashlog.RecordVerification(caseDir, rep, "esxsink "+version); err != nil {
					fmt.Fprintf(c.App.ErrWriter, "warning: %v (the result above is not in the custody log; run verify again when the case is writable, or use --no-record)\n", err)
				} else {
					fmt.Fprintf(c.App.Writer, "recorded as custody log seq %d (case.verified); the log head is now seq %d sha256 %s\n", rec.Seq, rec.Seq, rec.Hash)
				}
			}
			switch v := rep.Verdict(); v {
			case custody.Complete:
				fmt.Fprintf(c.App.Writer, "verification passed: %s\n", caseDir)
				return nil
			case custody.Incomplete:
				return cli.Exit(fmt.Sprintf("verification: the case in %s is INCOMPLETE (%d problem(s)); what it holds is intact", caseDir, len(rep.Assessment.Problems)), v.ExitCode())
			default:
				return cli.Exit(fmt.Sprintf("verification FAILED: %d integrity problem(s) in %s", max(rep.Failures(), integrityProblems(rep.Assessment)), caseDir), v.ExitCode())
			}
		},
	}
}

func integrityProblems(a *custody.Assessment) int {
	n := 0
	if a != nil {
		for _, p := range a.Problems {
			if p.Integrity {
				n++
			}
		}
	}
	return n
}
