package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/report"
)

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "write the acquisition report of a case (report.html, report.md, report.json) from the case folder alone",
		ArgsUsage: "CASE",
		Description: `Reads the custody log and states, for a court: the case, the ESXi host and its key,
every evidence file with its hashes on the host, on arrival and at rest and its verdict,
bad sectors, snapshots taken and removed, live-copied files, anomalies and refusals, every
command run on the host, the custody log head and the last esxsink verify result.
Nothing is re-hashed: run esxsink verify CASE first so the report can state that the
evidence is still intact. report.html is self-contained and prints to PDF.

Exit status: 0 when the report was written, whatever it says; 2 on usage errors.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "folder for report.html, report.md and report.json (default: CASE itself)"},
		},
		Action: runReport,
	}
}

func runReport(c *cli.Context) error {
	caseDir, out, err := reportArgs(c.Args().Slice(), c.String("out"))
	if err != nil {
		return usageError(err)
	}
	rep, err := report.Load(caseDir)
	if err != nil {
		if errors.Is(err, hashlog.ErrNotCase) {
			return usageError(err)
		}
		return err
	}
	rep.Generator = "esxsink " + version
	if out == "" {
		out = caseDir
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("create the report folder %s: %w", out, err)
	}
	writers := []struct {
		name  string
		write func(f *os.File) error
	}{
		{"report.html", func(f *os.File) error { return rep.WriteHTML(f) }},
		{"report.md", func(f *os.File) error { return rep.WriteMarkdown(f) }},
		{"report.json", func(f *os.File) error { return rep.WriteJSON(f) }},
	}
	for _, w := range writers {
		p := filepath.Join(out, w.name)
		if err := writeFileWith(p, w.write); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "wrote %s\n", p)
	}
	result := "PASS"
	if !rep.Summary.OK {
		result = "ATTENTION"
	}
	fmt.Fprintf(c.App.Writer, "RESULT: %s – %s\n", result, rep.Summary.Statement)
	return nil
}

// reportArgs takes CASE and also accepts --out after it, as the usage line
// shows it (the flag parser stops at the first argument).
func reportArgs(args []string, out string) (caseDir, outDir string, err error) {
	usage := errors.New("usage: esxsink report CASE [--out DIR]")
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--out" || a == "-out":
			if i+1 >= len(args) {
				return "", "", fmt.Errorf("--out needs a folder: %w", usage)
			}
			out = args[i+1]
			i++
		case strings.HasPrefix(a, "--out="):
			out = strings.TrimPrefix(a, "--out=")
		case strings.HasPrefix(a, "-") && a != "-":
			return "", "", fmt.Errorf("unknown flag %s: %w", a, usage)
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 1 {
		return "", "", usage
	}
	return pos[0], out, nil
}

// writeFileWith writes p through a temporary file renamed into place, so
// a report is never left half-written beside the evidence.
func writeFileWith(p string, write func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	tmp := f.Name()
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}
