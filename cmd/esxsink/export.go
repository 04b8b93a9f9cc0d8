package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/esxsink/esxsink/hashlog"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write the case's hashes for other tools: a hashdeep known-file, MD5SUMS/SHA256SUMS, or DFXML",
		ArgsUsage: "CASE",
		Description: `Made from the custody log alone (nothing is re-hashed). Paths are relative to
CASE/evidence, so check from there:

   cd CASE/evidence && hashdeep -l -r -a -k ../hashdeep.txt .
   cd CASE/evidence && md5sum -c ../MD5SUMS`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "hashdeep", Usage: "hashdeep, sums (MD5SUMS, SHA1SUMS, SHA256SUMS for the hashes the case has) or dfxml"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "file to write, '-' for standard output (default: a file in CASE)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError(errors.New("usage: esxsink export --format hashdeep|sums|dfxml CASE"))
			}
			caseDir := c.Args().First()
			m, err := hashlog.ReadManifest(caseDir)
			if err != nil {
				if errors.Is(err, hashlog.ErrNotCase) {
					return usageError(err)
				}
				return fmt.Errorf("%w (run esxsink verify %s)", err, caseDir)
			}
			type target struct{ format, file string }
			var targets []target
			switch f := c.String("format"); f {
			case "hashdeep":
				targets = []target{{hashlog.FormatHashdeep, "hashdeep.txt"}}
			case "dfxml":
				targets = []target{{hashlog.FormatDFXML, "dfxml.xml"}}
			case "sums":
				for _, s := range []struct{ alg, format, file string }{
					{"md5", hashlog.FormatMD5Sums, "MD5SUMS"}, {"sha1", hashlog.FormatSHA1Sums, "SHA1SUMS"}, {"sha256", hashlog.FormatSHA256Sums, "SHA256SUMS"},
				} {
					if caseHas(m, s.alg) {
						targets = append(targets, target{s.format, s.file})
					}
				}
				if len(targets) == 0 {
					return errors.New("no file in the case has hashes to export")
				}
			case "md5sums", "sha1sums", "sha256sums":
				targets = []target{{f, map[string]string{"md5sums": "MD5SUMS", "sha1sums": "SHA1SUMS", "sha256sums": "SHA256SUMS"}[f]}}
			default:
				return usageError(fmt.Errorf("unknown --format %q: want hashdeep, sums or dfxml", f))
			}
			out := c.String("output")
			if out != "" && len(targets) > 1 && out != "-" {
				return usageError(errors.New("--format sums writes several files: leave --output unset (they go into CASE) or use -"))
			}
			for _, t := range targets {
				var b bytes.Buffer
				if err := m.Export(t.format, &b); err != nil {
					return err
				}
				switch {
				case out == "-":
					c.App.Writer.Write(b.Bytes())
				default:
					p := out
					if p == "" {
						p = filepath.Join(caseDir, t.file)
					}
					if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
						return fmt.Errorf("write %s: %w", p, err)
					}
					fmt.Fprintf(c.App.ErrWriter, "wrote %s (%d files, custody log head %d)\n", p, len(m.Files), m.HeadSeq)
				}
			}
			return nil
		},
	}
}

func caseHas(m *hashlog.Manifest, alg string) bool {
	for _, f := range m.Files {
		if f.Hashes[alg] != "" {
			return true
		}
	}
	return false
}
