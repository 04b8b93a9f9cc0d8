// Command esxsink acquires VMware ESXi virtual machines as forensic evidence.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args))
}

// run executes the CLI and maps errors to exit codes: 0 success, 1 a check
// failed, 2 a usage error.
func run(args []string) int {
	app := newApp()
	if err := app.Run(args); err != nil {
		fmt.Fprintln(app.ErrWriter, "esxsink:", err)
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			return ec.ExitCode()
		}
		return 1
	}
	return 0
}

func newApp() *cli.App {
	return &cli.App{
		Name:    "esxsink",
		Usage:   "acquire VMware ESXi virtual machines as forensic evidence",
		Version: version,
		// Exit codes are decided by run, not by urfave/cli calling os.Exit.
		ExitErrHandler: func(*cli.Context, error) {},
		ErrWriter:      os.Stderr,
		Writer:         os.Stdout,
		Commands: []*cli.Command{
			serveCommand(),
			statusCommand(),
			verifyCommand(),
			exportCommand(),
			vmdkCommand(),
			labCommand(),
			inventoryCommand(),
			collectCommand(),
			triageCommand(),
			cleanupCommand(),
			reportCommand(),
		},
	}
}
