package esxi

import (
	"regexp"
	"strings"
)

// NASMount is one line of esxcfg-nas -l.
type NASMount struct {
	Label     string
	Share     string
	Host      string
	Mounted   bool // "mounted"; false for "unmounted" and for no status
	Available bool // "available"
	// Status is the text after the host as printed ("mounted available",
	// "unmounted unavailable"); "" when the line has none, as when the
	// server is unreachable on 4.x/5.x.
	Status string
}

// The share is the greedy middle, so a label or share containing " from "
// still leaves the last word before the status as the host.
var nasLine = regexp.MustCompile(`^(.+?) is (/.*) from (\S+)((?: (?:mounted|unmounted|available|unavailable))*)$`)

// ParseNASList parses esxcfg-nas -l: "LABEL is SHARE from HOST [mounted|
// unmounted] [available|unavailable]" lines, or "No NAS datastore found".
func ParseNASList(out string) ([]NASMount, error) {
	const src = "esxcfg-nas -l"
	var mounts []NASMount
	for i, l := range lines(out) {
		t := strings.TrimSpace(l)
		if t == "" || t == "No NAS datastore found" {
			continue
		}
		m := nasLine.FindStringSubmatch(t)
		if m == nil {
			if err := Classify(out); err != nil {
				return nil, err
			}
			return nil, parseErr(src, i+1, "%q is not \"LABEL is SHARE from HOST ...\"", clip(t))
		}
		status := strings.TrimSpace(m[4])
		nm := NASMount{Label: m[1], Share: m[2], Host: m[3], Status: status}
		for _, w := range strings.Fields(status) {
			switch w {
			case "mounted":
				nm.Mounted = true
			case "available":
				nm.Available = true
			}
		}
		mounts = append(mounts, nm)
	}
	return mounts, nil
}

// FindNASMount returns the mount with label, if any.
func FindNASMount(mounts []NASMount, label string) (NASMount, bool) {
	for _, m := range mounts {
		if m.Label == label {
			return m, true
		}
	}
	return NASMount{}, false
}

// CheckNASAdd checks the output of esxcfg-nas -a: "Connecting to NAS
// volume: LABEL" and "LABEL created and connected.". A failure message is
// returned as an error, matching a sentinel when [Classify] knows it (an
// NFS mount failure is [ErrNFSMount]).
func CheckNASAdd(out, label string) error {
	const src = "esxcfg-nas -a"
	ok := false
	for i, l := range lines(out) {
		t := strings.TrimSpace(l)
		switch t {
		case "", "Connecting to NAS volume: " + label:
		case label + " created and connected.":
			ok = true
		default:
			if err := Classify(out); err != nil {
				return err
			}
			return parseErr(src, i+1, "unexpected output %q", clip(t))
		}
	}
	if !ok {
		return parseErr(src, 0, "no %q line", label+" created and connected.")
	}
	return nil
}

// CheckNASRemove checks the output of esxcfg-nas -d: "NAS volume LABEL
// deleted.". A busy datastore is [ErrUnmountBusy]: retry later, and never
// leave the mount behind silently.
func CheckNASRemove(out, label string) error {
	return checkOnly("esxcfg-nas -d", out, "NAS volume "+label+" deleted.")
}
