package esxi

import "strings"

// PowerState is a VM's power state as vim-cmd prints it.
type PowerState string

// Power states.
const (
	PoweredOn  PowerState = "Powered on"
	PoweredOff PowerState = "Powered off"
	Suspended  PowerState = "Suspended"
)

// ParsePowerState parses vim-cmd vmsvc/power.getstate: "Retrieved runtime
// info" and then the state. Output that is an ESXi error message (an unknown
// vmid) returns that error, matching [ErrVMNotFound].
func ParsePowerState(out string) (PowerState, error) {
	const src = "power.getstate"
	if err := Classify(out); err != nil {
		return "", err
	}
	var state PowerState
	for i, l := range lines(out) {
		t := strings.TrimSpace(l)
		switch PowerState(t) {
		case PoweredOn, PoweredOff, Suspended:
			if state != "" {
				return "", parseErr(src, i+1, "second power state %q", t)
			}
			state = PowerState(t)
			continue
		}
		if t != "" && t != "Retrieved runtime info" {
			return "", parseErr(src, i+1, "unexpected line %q", clip(t))
		}
	}
	if state == "" {
		return "", parseErr(src, 0, "no power state line (Powered on, Powered off or Suspended)")
	}
	return state, nil
}
