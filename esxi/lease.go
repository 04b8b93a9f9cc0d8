package esxi

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Lease is what a run leaves on the host for as long as it works: which
// run it is, whose workstation and case it belongs to, and when it last
// said it was alive (the host's clock, so that its age is measured
// without the workstation's clock in the way). esxsink cleanup never
// undoes a run whose lease is fresh.
type Lease struct {
	RunID       string
	Workstation string
	Case        string
	PID         int
	Heartbeat   time.Time
}

// leaseHeader is the first line of every lease: a file in /tmp named like
// a lease but without it is not one of ours.
const leaseHeader = "esxsink lease 1"

var leaseRunID = regexp.MustCompile(`^[0-9a-f]{8}$`)

// LeasePath is the host path of run id's lease. /tmp is the host's
// ramdisk: a reboot, which ends every run, also ends every lease.
func LeasePath(runID string) string { return "/tmp/esxsink-" + runID + ".lease" }

// CmdWriteLease writes (or rewrites, as the heartbeat) l's lease; the
// heartbeat is the host's own clock at the moment of writing, so l's
// Heartbeat is not used.
func CmdWriteLease(l Lease) (string, error) {
	const cmd = "write lease"
	if !leaseRunID.MatchString(l.RunID) {
		return "", argErr(cmd, "run id", l.RunID, "is not 8 lowercase hex digits")
	}
	for _, f := range []struct{ what, v string }{{"workstation", l.Workstation}, {"case", l.Case}} {
		if err := checkLine(cmd, f.what, f.v); err != nil {
			return "", err
		}
	}
	lines := []string{leaseHeader, "run " + l.RunID, "workstation " + l.Workstation, "case " + l.Case, "pid " + strconv.Itoa(l.PID)}
	var b strings.Builder
	b.WriteString("{ ")
	for _, s := range lines {
		b.WriteString("echo " + Quote(s) + "; ")
	}
	b.WriteString("printf 'heartbeat '; date -u +%s; } > " + Quote(LeasePath(l.RunID)))
	return b.String(), nil
}

// CmdRemoveLease removes run id's lease when it is a regular file, and
// nothing else.
func CmdRemoveLease(runID string) (string, error) {
	if !leaseRunID.MatchString(runID) {
		return "", argErr("remove lease", "run id", runID, "is not 8 lowercase hex digits")
	}
	q := Quote(LeasePath(runID))
	return "if [ -f " + q + " ]; then rm -f " + q + "; fi", nil
}

// ParseLease reads a lease as [CmdWriteLease] wrote it. A lease being
// rewritten can be read half written: that is an error, and a caller
// must then treat the run as alive.
func ParseLease(out string) (Lease, error) {
	const src = "lease"
	var l Lease
	ls := lines(out)
	if len(ls) == 0 || strings.TrimSpace(ls[0]) != leaseHeader {
		return l, parseErr(src, 1, "want %q", leaseHeader)
	}
	seen := map[string]bool{}
	for i, line := range ls[1:] {
		if line == "" {
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		seen[k] = true
		switch k {
		case "run":
			if !leaseRunID.MatchString(v) {
				return l, parseErr(src, i+2, "run id %q is not 8 lowercase hex digits", clip(v))
			}
			l.RunID = v
		case "workstation":
			l.Workstation = v
		case "case":
			l.Case = v
		case "pid":
			n, err := strconv.Atoi(v)
			if err != nil {
				return l, parseErr(src, i+2, "pid %q is not a number", clip(v))
			}
			l.PID = n
		case "heartbeat":
			t, err := ParseDateUTC(v)
			if err != nil {
				return l, parseErr(src, i+2, "heartbeat %q is not seconds since 1970", clip(v))
			}
			l.Heartbeat = t
		}
	}
	for _, k := range []string{"run", "heartbeat"} {
		if !seen[k] {
			return l, parseErr(src, len(ls), "no %s line (a lease being rewritten?)", k)
		}
	}
	return l, nil
}

// CmdLeaseHeartbeat refreshes run id's lease and says, before it does,
// whether the lease was still there and whether stopFile exists: a run
// learns from its own heartbeat that something of its own was changed
// under it (parse with [ParseLeaseHeartbeat]).
func CmdLeaseHeartbeat(l Lease, stopFile string) (string, error) {
	write, err := CmdWriteLease(l)
	if err != nil {
		return "", err
	}
	qs, err := quotePath("lease heartbeat", "stop file", stopFile)
	if err != nil {
		return "", err
	}
	return "if [ -f " + Quote(LeasePath(l.RunID)) + " ]; then echo 'lease present'; else echo 'lease missing'; fi; " +
		"if [ -e " + qs + " ]; then echo 'stop present'; fi; " + write + " && echo 'lease written'", nil
}

// LeaseHeartbeat is what [CmdLeaseHeartbeat] found.
type LeaseHeartbeat struct {
	WasThere, Stop, Written bool
}

// ParseLeaseHeartbeat reads [CmdLeaseHeartbeat]'s output.
func ParseLeaseHeartbeat(out string) (LeaseHeartbeat, error) {
	var h LeaseHeartbeat
	seen := false
	for i, l := range lines(out) {
		switch strings.TrimSpace(l) {
		case "lease present":
			h.WasThere, seen = true, true
		case "lease missing":
			seen = true
		case "stop present":
			h.Stop = true
		case "lease written":
			h.Written = true
		case "":
		default:
			return h, parseErr("lease heartbeat", i+1, "unexpected %q", clip(l))
		}
	}
	if !seen {
		return h, parseErr("lease heartbeat", 1, "no lease line")
	}
	return h, nil
}
