package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/esxsink/esxsink/esxi"
)

// snapshotTime shows when a snapshot was taken, in UTC with its zone
// written out: ESXi keeps its clock in UTC and vim-cmd prints that time
// without saying so. A time vim-cmd printed in a form not understood is
// shown as printed, marked as such.
func snapshotTime(s *esxi.SnapshotNode) string {
	if s.Created.IsZero() {
		if s.CreatedRaw == "" {
			return "(no time recorded)"
		}
		return s.CreatedRaw + " (host time as printed, zone not stated)"
	}
	return s.Created.UTC().Format(time.RFC3339)
}

// printColumns writes rows as columns two spaces apart, each line starting
// with indent; right[i] aligns column i to the right (sizes). Widths are
// the cells a terminal gives the text (a Hangul or Han character takes
// two), so that a long or non-Latin name moves every row's later columns
// alike. The last column is not padded.
func printColumns(w io.Writer, indent string, right []bool, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], runewidth.StringWidth(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-runewidth.StringWidth(c))
			switch {
			case i < len(right) && right[i]:
				b.WriteString(pad + c)
			case i == len(r)-1:
				b.WriteString(c)
			default:
				b.WriteString(c + pad)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}
