package esxi

import (
	"strconv"
	"strings"
	"time"
)

// CmdDateUTC reads the host's clock as seconds since the epoch (busybox
// date on ESXi knows +%s).
func CmdDateUTC() string { return "date -u +%s" }

// ParseDateUTC reads CmdDateUTC's output.
func ParseDateUTC(out string) (time.Time, error) {
	s := strings.TrimSpace(out)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, parseErr("date", 1, "%q is not a number of seconds since 1970", clip(s))
	}
	return time.Unix(n, 0).UTC(), nil
}
