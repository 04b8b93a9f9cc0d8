package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/esxsink/esxsink/hashlog"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "re-hash every evidence file at rest and re-walk the custody log's hash chain",
		ArgsUsage: "CASE",
		Description: `Exit status: 0 when every file and every log line holds, 1 with a precise list
(file, piece, log line) otherwise, 2 on usage errors (e.g. CASE is not a case folder).

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
					fmt.Fprintf(c.App.Writer, "recorded as custody log seq %d (case.verified)\n", rec.Seq)
				}
			}
			if !rep.OK() {
				return checkFailed(fmt.Sprintf("verification FAILED: %d problem(s) in %s", rep.Failures(), caseDir))
			}
			fmt.Fprintf(c.App.Writer, "verification passed: %s\n", caseDir)
			return nil
		},
	}
}
