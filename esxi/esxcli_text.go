package esxi

import (
	"regexp"
	"strings"
)

// ParseEsxcliText parses esxcli's default (human) output, for recorded
// output and logs; commands run by the orchestrator use --formatter=csv. It
// knows the two layouts esxcli uses:
//
//   - a table: a header line, a line of dash groups, then rows. Columns are
//     located by the dash groups, not by splitting on spaces, because values
//     can be empty (a vfat volume has no name) or contain spaces.
//   - records: "   Key: Value" lines indented under an unindented title
//     line (vm process list, storage core device list), or with no title
//     when the command returns one structure (system version get). The
//     title is kept under [TitleKey].
func ParseEsxcliText(out string) ([]Record, error) {
	ls := lines(out)
	first := 0
	for first < len(ls) && strings.TrimSpace(ls[first]) == "" {
		first++
	}
	if first == len(ls) {
		return nil, nil
	}
	if first+1 < len(ls) && isDashLine(ls[first+1]) {
		return parseTable(ls, first)
	}
	return parseRecords(ls, first)
}

func isDashLine(s string) bool {
	s = strings.TrimRight(s, " ")
	return s != "" && strings.Trim(s, "- ") == "" && strings.HasPrefix(s, "-")
}

var twoSpaces = regexp.MustCompile(`\s{2,}`)

type span struct{ start, end int }

func parseTable(ls []string, first int) ([]Record, error) {
	const src = "esxcli table"
	dash := strings.TrimRight(ls[first+1], " ")
	var cols []span
	for i := 0; i < len(dash); {
		if dash[i] != '-' {
			i++
			continue
		}
		j := i
		for j < len(dash) && dash[j] == '-' {
			j++
		}
		cols = append(cols, span{i, j})
		i = j
	}
	header := strings.TrimSpace(ls[first])
	names := twoSpaces.Split(header, -1)
	if len(names) != len(cols) {
		// The header is normally aligned with the dashes; slice it.
		names = make([]string, len(cols))
		for i := range cols {
			names[i] = strings.TrimSpace(slice(ls[first], cols, i))
		}
	}
	for i, nm := range names {
		if normField(nm) == "" {
			return nil, parseErr(src, first+1, "column %d has no name", i+1)
		}
	}
	var recs []Record
	for i := first + 2; i < len(ls); i++ {
		row := strings.TrimRight(ls[i], " \t")
		if row == "" {
			continue
		}
		last := cols[len(cols)-1]
		if len(row) <= last.start {
			return nil, parseErr(src, i+1, "row ends at column %d, before column %q at %d: cut short?", len(row), names[len(names)-1], last.start+1)
		}
		for c := 0; c+1 < len(cols); c++ {
			gap := row[cols[c].end:min(cols[c+1].start, len(row))]
			if strings.Trim(gap, " ") != "" {
				return nil, parseErr(src, i+1, "value of column %q runs past its dashes", names[c])
			}
		}
		rec := make(Record, len(cols))
		for c := range cols {
			rec[names[c]] = strings.TrimSpace(slice(row, cols, c))
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// slice returns column c of row: from its dash group's start to the next
// group's start (the last column runs to the end of the row).
func slice(row string, cols []span, c int) string {
	start := cols[c].start
	end := len(row)
	if c+1 < len(cols) {
		end = min(end, cols[c+1].start)
	}
	if start >= end {
		return ""
	}
	return row[start:end]
}

func parseRecords(ls []string, first int) ([]Record, error) {
	const src = "esxcli records"
	var recs []Record
	var cur Record
	for i := first; i < len(ls); i++ {
		line := strings.TrimRight(ls[i], " \t")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			cur = Record{TitleKey: line}
			recs = append(recs, cur)
			continue
		}
		key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, parseErr(src, i+1, "%q is not \"Key: Value\"", clip(strings.TrimSpace(line)))
		}
		if cur == nil {
			cur = Record{}
			recs = append(recs, cur)
		}
		if _, dup := cur[key]; dup {
			return nil, parseErr(src, i+1, "field %q repeated in one record", clip(key))
		}
		cur[key] = strings.TrimSpace(val)
	}
	return recs, nil
}
