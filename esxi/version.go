package esxi

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// HostVersion is the ESXi release of a host.
type HostVersion struct {
	Product string `json:"product"` // "VMware ESXi"
	Version string `json:"version"` // "7.0.3"
	// Major, Minor and Micro are Version's numbers (Micro 0 when Version
	// has two parts).
	Major  int   `json:"major"`
	Minor  int   `json:"minor"`
	Micro  int   `json:"micro"`
	Build  int64 `json:"build"`  // 20328353; 0 when not printed
	Update int   `json:"update"` // "Update 3" is 3, "GA" is 0; -1 when not printed
	Patch  int   `json:"patch"`  // esxcli's Patch line; -1 when not printed
}

// AtLeast reports whether the version is major.minor or later.
func (v HostVersion) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

var (
	vmwareLine = regexp.MustCompile(`^(VMware ESXi?)\s+(\d+\.\d+(?:\.\d+)?)(?:\s+build-(\d+))?(?:\s+(?:Update\s+(\d+)|(GA)))?$`)
	versionNum = regexp.MustCompile(`^(\d+)\.(\d+)(?:\.(\d+))?$`)
)

// ParseVMwareVersion parses vmware -v ("VMware ESXi 7.0.3 build-20328353"),
// vmware -l ("VMware ESXi 6.7.0 Update 3", "VMware ESXi 7.0 GA") or vmware
// -vl (both lines). Blank lines are skipped; other lines, or two lines
// naming different versions, are errors.
func ParseVMwareVersion(out string) (HostVersion, error) {
	const src = "vmware -v"
	v := HostVersion{Update: -1, Patch: -1}
	found := false
	for i, l := range lines(out) {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		m := vmwareLine.FindStringSubmatch(t)
		if m == nil {
			return v, parseErr(src, i+1, "%q is not \"VMware ESXi X.Y.Z build-N\" or \"... Update N\"", clip(t))
		}
		if found && m[2] != v.Version {
			return v, parseErr(src, i+1, "version %s differs from %s on an earlier line", m[2], v.Version)
		}
		found = true
		v.Product = m[1]
		if err := v.setVersion(m[2]); err != nil {
			return v, parseErr(src, i+1, "%v", err)
		}
		if m[3] != "" {
			b, err := strconv.ParseInt(m[3], 10, 64)
			if err != nil {
				return v, parseErr(src, i+1, "build %q out of range", m[3])
			}
			v.Build = b
		}
		switch {
		case m[4] != "":
			u, err := strconv.Atoi(m[4])
			if err != nil {
				return v, parseErr(src, i+1, "update %q out of range", m[4])
			}
			v.Update = u
		case m[5] == "GA":
			v.Update = 0
		}
	}
	if !found {
		return v, parseErr(src, 0, "no \"VMware ESXi\" line")
	}
	return v, nil
}

func (v *HostVersion) setVersion(s string) error {
	m := versionNum.FindStringSubmatch(s)
	if m == nil {
		return fmt.Errorf("version %q is not X.Y or X.Y.Z", clip(s))
	}
	nums := []*int{&v.Major, &v.Minor, &v.Micro}
	for i, p := range nums {
		if m[i+1] == "" {
			*p = 0
			continue
		}
		n, err := strconv.Atoi(m[i+1])
		if err != nil {
			return fmt.Errorf("version %q out of range", clip(s))
		}
		*p = n
	}
	v.Version = s
	return nil
}
