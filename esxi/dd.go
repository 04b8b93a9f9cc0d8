package esxi

import (
	"math"
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
// without them dd did not finish (it was killed, or never started). A copy
// split into parts ([CmdCopy] with a size bs does not divide) runs dd
// several times in a row; their counts are added up, and Bytes is their sum
// when every part printed it.
func ParseDDStatus(stderr string) (DDStatus, error) {
	const src = "dd status"
	st := DDStatus{Bytes: -1}
	var seenIn, seenOut, open bool
	var bytes int64
	runs, withBytes := 0, 0
	for i, line := range lines(stderr) {
		t := strings.TrimSpace(line)
		if m := ddRecords.FindStringSubmatch(t); m != nil {
			full, err1 := strconv.ParseInt(m[1], 10, 64)
			part, err2 := strconv.ParseInt(m[2], 10, 64)
			if err1 != nil || err2 != nil {
				return st, parseErr(src, i+1, "record count %q out of range", clip(t))
			}
			if m[3] == "in" {
				if open {
					return st, parseErr(src, i+1, "second \"records in\" line before \"records out\": two dd runs mixed in one output")
				}
				if st.FullIn > math.MaxInt64-full || st.PartialIn > math.MaxInt64-part {
					return st, parseErr(src, i+1, "record counts add up past the range")
				}
				st.FullIn, st.PartialIn, seenIn, open = st.FullIn+full, st.PartialIn+part, true, true
			} else {
				if !open {
					return st, parseErr(src, i+1, "\"records out\" without a \"records in\" line before it")
				}
				if st.FullOut > math.MaxInt64-full || st.PartialOut > math.MaxInt64-part {
					return st, parseErr(src, i+1, "record counts add up past the range")
				}
				st.FullOut, st.PartialOut, seenOut, open = st.FullOut+full, st.PartialOut+part, true, false
				runs++
			}
			continue
		}
		if m := ddBytes.FindStringSubmatch(t); m != nil && seenOut && !open {
			n, err := strconv.ParseInt(m[1], 10, 64)
			if err != nil || bytes > math.MaxInt64-n {
				return st, parseErr(src, i+1, "byte count %q out of range", clip(t))
			}
			bytes += n
			withBytes++
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
	if withBytes > 0 && withBytes == runs {
		st.Bytes = bytes
	}
	if !seenIn || !seenOut || open {
		return st, parseErr(src, 0, "no \"records in\" and \"records out\" lines: dd did not finish")
	}
	return st, nil
}
