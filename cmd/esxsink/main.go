// Command esxsink acquires VMware ESXi virtual machines as forensic evidence.
package main

import (
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
		fmt.Fprintln(os.Stderr, "esxsink:", err)
		if ec, ok := err.(cli.ExitCoder); ok {
			return ec.ExitCode()
		}
		return 1
	}
	return 0
}

func newApp() *cli.App {
	return &cli.App{
		Name:     "esxsink",
		Usage:    "acquire VMware ESXi virtual machines as forensic evidence",
		Version:  version,
		Commands: []*cli.Command{},
	}
}
