package esxi

import (
	"regexp"
	"strconv"
	"strings"
)

// DDStatus is what dd reports on standard error when it finishes.
type DDStatus struct {
	FullIn, PartialIn   int64 // "F+P records in"
	FullOut, PartialOut int64 // "F+P records out"
	Bytes               int64 // from "N bytes ... copied"; -1 when dd did not print it (busybox often does not)
	// Errors are dd's own complaints ("dd: error reading ...: Input/output
	// error"). With conv=noerror,sync each is a block written as zeros, and
	// shows up as a partial input record too.
	Errors []string
	// Other lines on the same stream (tee, the hash tools, the shell).
	Other []string
}

var (
	ddRecords = regexp.MustCompile(`^(\d+)\+(\d+) records (in|out)$`)
	ddBytes   = regexp.MustCompile(`^(\d+) bytes\b`)
)

// ParseDDStatus parses dd's standard error. Both record lines must be there:
// without them dd did not finish (it was killed, or never started).
func ParseDDStatus(stderr string) (DDStatus, error) {
	const src = "dd status"
	st := DDStatus{Bytes: -1}
	var seenIn, seenOut bool
	for i, line := range lines(stderr) {
		t := strings.TrimSpace(line)
		if m := ddRecords.FindStringSubmatch(t); m != nil {
			full, err1 := strconv.ParseInt(m[1], 10, 64)
			part, err2 := strconv.ParseInt(m[2], 10, 64)
			if err1 != nil || err2 != nil {
				return st, parseErr(src, i+1, "record count %q out of range", clip(t))
			}
			if m[3] == "in" {
				if seenIn {
					return st, parseErr(src, i+1, "second \"records in\" line: two dd runs in one output")
				}
				st.FullIn, st.PartialIn, seenIn = full, part, true
			} else {
				if seenOut {
					return st, parseErr(src, i+1, "second \"records out\" line: two dd runs in one output")
				}
				st.FullOut, st.PartialOut, seenOut = full, part, true
			}
			continue
		}
		if m := ddBytes.FindStringSubmatch(t); m != nil && seenOut {
			n, err := strconv.ParseInt(m[1], 10, 64)
			if err != nil {
				return st, parseErr(src, i+1, "byte count %q out of range", clip(t))
			}
			st.Bytes = n
			continue
		}
		switch {
		case t == "":
		case strings.HasPrefix(t, "dd: "):
			st.Errors = append(st.Errors, t)
		default:
			st.Other = append(st.Other, t)
		}
	}
	if !seenIn || !seenOut {
		return st, parseErr(src, 0, "no \"records in\" and \"records out\" lines: dd did not finish")
	}
	return st, nil
}
