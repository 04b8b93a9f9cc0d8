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
	unknownCommand := false
	app.CommandNotFound = func(c *cli.Context, name string) {
		fmt.Fprintf(c.App.ErrWriter, "esxsink: no command %q: esxsink --help lists them\n", name)
		unknownCommand = true
	}
	for _, c := range app.Commands {
		if c.OnUsageError == nil {
			c.OnUsageError = app.OnUsageError
		}
		for _, sub := range c.Subcommands {
			if sub.OnUsageError == nil {
				sub.OnUsageError = app.OnUsageError
			}
		}
	}
	err := app.Run(args)
	if unknownCommand {
		return 2
	}
	if err != nil {
		fmt.Fprintln(app.ErrWriter, "esxsink:", withAdvice(err))
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
		// Every mistake on the command line exits 2, an unknown flag or
		// command included.
		OnUsageError: func(_ *cli.Context, err error, _ bool) error { return usageError(err) },
		Commands: withHelp([]*cli.Command{
			serveCommand(),
			statusCommand(),
			verifyCommand(),
			exportCommand(),
			vmdkCommand(),
			labMovedCommand(),
			versionCommand(),
			inventoryCommand(),
			collectCommand(),
			triageCommand(),
			cleanupCommand(),
			reportCommand(),
		}),
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version of esxsink",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "esxsink %s\n", version)
			return nil
		},
	}
}

// labMovedCommand answers `esxsink lab`, which moved to its own program:
// the acquisition binary links no simulator.
func labMovedCommand() *cli.Command {
	return &cli.Command{
		Name:            "lab",
		Hidden:          true,
		SkipFlagParsing: true,
		Action: func(*cli.Context) error {
			return usageError(errors.New("the simulated ESXi host is its own program now, so that esxsink ships no simulator: run esxsink-lab with the same flags (make build builds bin/esxsink-lab)"))
		},
	}
}
