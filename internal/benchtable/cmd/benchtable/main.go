// Command benchtable prints the rows `make bench` collected as one table
// (figure, ours, peer, ratio, target, met?) and writes them as one JSON
// document, so that runs can be compared. It exits 1 when a target was
// missed, so a bench run that misses one says so.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/esxsink/esxsink/internal/benchtable"
)

func main() {
	in := flag.String("in", "bench-results.jsonl", "rows appended by the benchmarks")
	out := flag.String("out", "bench-results.json", "where to write the table as JSON")
	flag.Parse()
	rows, err := read(*in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(2)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tOURS\tPEER\tRATIO\tTARGET\tMET")
	missed := 0
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%s\t%s\n", r.Figure, r.Ours, r.Peer, r.Ratio, r.Wanted(), r.Verdict())
		if !r.Met {
			missed++
		}
	}
	tw.Flush()
	doc := struct {
		Written time.Time        `json:"written"`
		Rows    []benchtable.Row `json:"rows"`
		Missed  int              `json:"targets_missed"`
	}{time.Now().UTC(), rows, missed}
	data, _ := json.MarshalIndent(doc, "", "  ")
	if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(2)
	}
	fmt.Printf("%d figures, %d targets missed; table written to %s\n", len(rows), missed, *out)
	if missed > 0 {
		os.Exit(1)
	}
}

func read(path string) ([]benchtable.Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("no bench rows: %w (run make bench)", err)
	}
	defer f.Close()
	var rows []benchtable.Row
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r benchtable.Row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}
