package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/esxsink/esxsink/nfssink"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show a running sink's mounts and files: bytes, rate, state and hashes",
		ArgsUsage: "CASE",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "refresh every second until Ctrl-C"},
			&cli.BoolFlag{Name: "json", Usage: "print the raw status as JSON"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError(errors.New("usage: esxsink status CASE"))
			}
			cl := nfssink.NewClient(stateDir(c.Args().First()))
			for {
				st, err := cl.Status(c.Context)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					writeJSONTo(c.App.Writer, st)
				} else {
					if c.Bool("watch") {
						fmt.Fprint(c.App.Writer, "\033[H\033[2J")
					}
					printStatus(c.App.Writer, st, filepath.Clean(c.Args().First()))
				}
				if !c.Bool("watch") {
					return nil
				}
				select {
				case <-c.Context.Done():
					return nil
				case <-time.After(time.Second):
				}
			}
		},
	}
}

func printStatus(w io.Writer, st nfssink.Status, caseDir string) {
	fmt.Fprintf(w, "case %s — NFS %s, export %s, portmap %s\n", caseDir, st.NFS, st.Export, st.Portmap)
	fmt.Fprintf(w, "received %s, %s free on the evidence disk\n", humanBytes(st.Received), humanBytes(st.FreeBytes))
	for _, m := range st.Mounts {
		fmt.Fprintf(w, "mounted by %s (%s)\n", m.Client, m.Path)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tSTATE\tSIZE\tRATE\tMD5\tSHA-256\tANOMALIES")
	for _, f := range st.Receiving {
		fmt.Fprintf(tw, "%s\treceiving\t%s\t%s/s\t-\t-\t%d\n", f.Path, humanBytes(f.Size), humanBytes(int64(f.RateBps)), len(f.Anomalies))
	}
	for _, f := range st.Finalized {
		fmt.Fprintf(tw, "%s\tfinalized\t%s\t\t%s\t%s\t%d\n", f.Path, humanBytes(f.Size), f.Hashes["md5"], f.Hashes["sha256"], len(f.Anomalies))
	}
	tw.Flush()
}
