package esxi

import (
	"errors"
	"regexp"
	"strings"
)

// ErrNotRDM is returned by [ParseVmkfstoolsQuery] when vmkfstools says the
// disk is not a raw device mapping.
var ErrNotRDM = errors.New("disk is not a raw device mapping")

// RDMInfo is what vmkfstools -q says about a raw device mapping.
type RDMInfo struct {
	Disk string // the descriptor, as vmkfstools printed it
	// Passthrough is true for a physical-compatibility RDM (createType
	// vmfsPassthroughRawDeviceMap): a VM snapshot does not cover it.
	Passthrough bool
	Device      string // vml.* identifier; the device is /vmfs/devices/disks/DEVICE
}

var (
	rdmDisk = regexp.MustCompile(`^Disk (.+) is a (Non-passthrough|Passthrough) Raw Device Mapping$`)
	rdmMaps = regexp.MustCompile(`^Maps to: (\S+)$`)
)

// ParseVmkfstoolsQuery parses vmkfstools -q:
//
//	Disk test.vmdk is a Non-passthrough Raw Device Mapping
//	Maps to: vml.0200...
//
// Output saying the disk is "not a" raw device mapping returns [ErrNotRDM]
// (that wording was not seen in a recorded sample; it is matched loosely).
func ParseVmkfstoolsQuery(out string) (RDMInfo, error) {
	const src = "vmkfstools -q"
	var info RDMInfo
	var sawDisk bool
	for i, l := range lines(out) {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		if m := rdmDisk.FindStringSubmatch(t); m != nil {
			if sawDisk {
				return info, parseErr(src, i+1, "second \"Disk ... is a\" line")
			}
			info.Disk, info.Passthrough, sawDisk = m[1], m[2] == "Passthrough", true
			continue
		}
		if m := rdmMaps.FindStringSubmatch(t); m != nil {
			if info.Device != "" {
				return info, parseErr(src, i+1, "second \"Maps to:\" line")
			}
			info.Device = m[1]
			continue
		}
		lower := strings.ToLower(t)
		if strings.Contains(lower, "not a") && (strings.Contains(lower, "raw device mapping") || strings.Contains(lower, "rdm")) {
			return info, ErrNotRDM
		}
		if err := Classify(out); err != nil {
			return info, err
		}
		// Newer releases may print more detail lines; they are ignored.
	}
	if !sawDisk || info.Device == "" {
		return info, parseErr(src, 0, "want \"Disk ... is a ... Raw Device Mapping\" and \"Maps to: vml...\" lines")
	}
	return info, nil
}
