package main

import (
	"errors"
	"fmt"

	"github.com/esxsink/esxsink/hashlog"
	"github.com/urfave/cli/v2"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "re-hash every evidence file at rest and re-walk the custody log's hash chain",
		ArgsUsage: "CASE",
		Description: `Exit status: 0 when every file and every log line holds, 1 with a precise list
(file, piece, log line) otherwise, 2 on usage errors (e.g. CASE is not a case folder).`,
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
			if !rep.OK() {
				return checkFailed(fmt.Sprintf("verification FAILED: %d problem(s) in %s", rep.Failures(), caseDir))
			}
			fmt.Fprintf(c.App.Writer, "verification passed: %s\n", caseDir)
			return nil
		},
	}
}
