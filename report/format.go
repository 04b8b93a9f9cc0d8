package report

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/esxsink/esxsink/internal/units"
)

// timeLayout is how every time in the report is shown: UTC, to the second.
const timeLayout = "2006-01-02 15:04:05"

// formatter renders values the same way in HTML and Markdown.
type formatter struct {
	zone *time.Location // the examiner's local offset; nil if unknown
	off  string
}

func newFormatter(utcOffset string) formatter {
	f := formatter{}
	if loc, ok := parseOffset(utcOffset); ok {
		f.zone, f.off = loc, utcOffset
	}
	return f
}

// parseOffset reads "+09:00" / "-05:30" / "+00:00".
func parseOffset(s string) (*time.Location, bool) {
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' {
		return nil, false
	}
	h, err1 := strconv.Atoi(s[1:3])
	m, err2 := strconv.Atoi(s[4:6])
	if err1 != nil || err2 != nil || h > 14 || m > 59 {
		return nil, false
	}
	secs := (h*60 + m) * 60
	if s[0] == '-' {
		secs = -secs
	}
	return time.FixedZone("UTC"+s, secs), true
}

// when shows t in UTC and, when the case recorded the examiner's offset,
// in local time too: "2026-11-25 06:09:46 UTC (15:09:46 +09:00)".
func (f formatter) when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	s := t.UTC().Format(timeLayout) + " UTC"
	if f.zone != nil && f.off != "+00:00" {
		lt := t.In(f.zone)
		if lt.YearDay() == t.UTC().YearDay() {
			s += " (" + lt.Format("15:04:05") + " " + f.off + ")"
		} else {
			s += " (" + lt.Format(timeLayout) + " " + f.off + ")"
		}
	}
	return s
}

// clock shows only the UTC time of day, for long tables of one day.
func (f formatter) clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("15:04:05.000")
}

// size shows a byte count exactly and, from a KiB on, in binary units.
func size(n int64) string {
	exact := groupDigits(n) + " bytes"
	if n < 1024 {
		return exact
	}
	return fmt.Sprintf("%s (%s)", exact, humanBytes(n))
}

func humanBytes(n int64) string { return units.HumanBytes(n) }

// groupDigits writes 1234567 as 1,234,567.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// hash returns m[alg], or "-" when it was not recorded.
func hash(m map[string]string, alg string) string {
	if v := m[alg]; v != "" {
		return v
	}
	return "-"
}

// seconds shows a command's duration.
func seconds(s float64) string {
	if s < 10 {
		return fmt.Sprintf("%.3f s", s)
	}
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

// update shows an ESXi update or patch number, -1 meaning not reported.
func update(n int) string {
	if n < 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

// groupTitle names a group of evidence files.
func groupTitle(vm VM, check bool) string {
	switch {
	case check:
		return "Check files written by esxsink through the mount on " + vm.Host
	case vm.Name == "" && vm.Host == "":
		return "Files received by the sink (no acquisition record)"
	case vm.Name == "":
		return "Host devices of " + vm.Host
	case vm.ID > 0:
		return fmt.Sprintf("VM %q (vmid %d) on %s", vm.Name, vm.ID, vm.Host)
	}
	return fmt.Sprintf("VM %q (unregistered) on %s", vm.Name, vm.Host)
}

// sinkMD5 is the MD5 the verdict table shows: at rest, or on arrival for
// a file the sink was not asked to re-read.
func sinkMD5(f File) string {
	if v := f.AtRest["md5"]; v != "" {
		return v
	}
	return hash(f.Arrival, "md5")
}

// verdictClass is the CSS class of a verdict.
func verdictClass(v Verdict) string {
	switch v {
	case Verified:
		return "ok"
	case Received, CopiedLive, Superseded:
		return "recv"
	case NotVerified:
		return "notv"
	}
	return "bad"
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
