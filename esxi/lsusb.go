package esxi

import (
	"regexp"
	"strconv"
	"strings"
)

// USBDevice is one line of lsusb.
type USBDevice struct {
	Bus, Device         int
	VendorID, ProductID uint16
	Description         string // may be ""
}

// IsRootHub reports a host controller's own root hub (VMware's 0e0f:800x or
// the Linux Foundation's 1d6b:*), which is never evidence.
func (d USBDevice) IsRootHub() bool {
	return d.VendorID == 0x0e0f && d.ProductID&0xfff0 == 0x8000 || d.VendorID == 0x1d6b
}

var lsusbLine = regexp.MustCompile(`^Bus (\d{1,3}) Device (\d{1,3}): ID ([0-9a-fA-F]{4}):([0-9a-fA-F]{4})(?: (.*))?$`)

// ParseLsusb parses lsusb: "Bus 001 Device 002: ID 0c45:6510 Microdia".
func ParseLsusb(out string) ([]USBDevice, error) {
	var devs []USBDevice
	for i, l := range lines(out) {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		m := lsusbLine.FindStringSubmatch(t)
		if m == nil {
			return nil, parseErr("lsusb", i+1, "%q is not \"Bus N Device N: ID VVVV:PPPP ...\"", clip(t))
		}
		bus, _ := strconv.Atoi(m[1])
		dev, _ := strconv.Atoi(m[2])
		v, _ := strconv.ParseUint(m[3], 16, 16)
		p, _ := strconv.ParseUint(m[4], 16, 16)
		devs = append(devs, USBDevice{Bus: bus, Device: dev, VendorID: uint16(v), ProductID: uint16(p),
			Description: strings.TrimSpace(m[5])})
	}
	return devs, nil
}
