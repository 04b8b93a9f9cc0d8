package esxsim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// advancedOption is one advanced setting as esxcli lists it; its vSphere
// API key is the path with dots (/UserVars/X is UserVars.X).
type advancedOption struct {
	path, typ, str, desc string
	val, def, min, max   int64
	// apiBool: the API reports the setting as a boolean (VMkernel.Boot.*),
	// where esxcli shows 0 or 1.
	apiBool bool
}

// advancedOptions are the settings a forensic triage reads; a scenario's
// host.advanced changes their values.
var advancedOptions = []advancedOption{
	{path: "/Config/HostAgent/plugins/solo/enableMob", typ: "integer", desc: "Enable Managed Object Browser (MOB)", max: 1},
	{path: "/Net/BlockGuestBPDU", typ: "integer", desc: "Block BPDU packets from guest OS", max: 1},
	{path: "/Syslog/global/logDir", typ: "string", str: "[] /scratch/log", desc: "Datastore path of directory to output logs to"},
	{path: "/Syslog/global/logHost", typ: "string", desc: "The remote host(s) to output logs to"},
	{path: "/UserVars/ESXiShellInteractiveTimeOut", typ: "integer", desc: "Idle time before an interactive shell is automatically logged out (in seconds). 0 disables.", max: 86400},
	{path: "/UserVars/ESXiShellTimeOut", typ: "integer", desc: "Time before automatically disabling local and remote shell access (in seconds, 0 disables).", max: 86400},
	{path: "/UserVars/SuppressShellWarning", typ: "integer", val: 1, desc: "Do not show warning for enabled local and remote shell access", max: 1},
	{path: "/VMkernel/Boot/execInstalledOnly", typ: "integer", desc: "Only allow executing binaries from installed VIBs", max: 1, apiBool: true},
}

// key is the setting's name in the vSphere API.
func (o *advancedOption) key() string {
	return strings.ReplaceAll(strings.TrimPrefix(o.path, "/"), "/", ".")
}

// findAdvanced finds a setting by API key or esxcli path.
func findAdvanced(k string) *advancedOption {
	for i := range advancedOptions {
		o := &advancedOptions[i]
		if k == o.path || k == o.key() {
			return o
		}
	}
	return nil
}

func advancedKeys() []string {
	var ks []string
	for _, o := range advancedOptions {
		ks = append(ks, o.key())
	}
	return ks
}

// parse returns the setting with value v, checked against its type and
// bounds; an integer setting of at most 1 also takes true and false.
func (o *advancedOption) parse(v string) (advancedOption, error) {
	out := *o
	if o.typ == "string" {
		out.str = v
		return out, nil
	}
	switch {
	case o.max == 1 && strings.EqualFold(v, "true"):
		out.val = 1
		return out, nil
	case o.max == 1 && strings.EqualFold(v, "false"):
		out.val = 0
		return out, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return out, fmt.Errorf("%q is not an integer", v)
	}
	if n < o.min || n > o.max {
		return out, fmt.Errorf("%d is outside %d..%d", n, o.min, o.max)
	}
	out.val = n
	return out, nil
}

// advancedValues is the table with this host's scenario values applied.
func (h *Host) advancedValues() []advancedOption {
	out := make([]advancedOption, 0, len(advancedOptions))
	for _, o := range advancedOptions {
		if v, ok := h.sc.Host.Advanced[o.key()]; ok {
			// normalize checked the value.
			o, _ = o.parse(v)
		}
		out = append(out, o)
	}
	return out
}

func (h *Host) advancedInt(path string) int64 {
	for _, o := range h.advancedValues() {
		if o.path == path {
			return o.val
		}
	}
	return 0
}

func (h *Host) advancedString(path string) string {
	for _, o := range h.advancedValues() {
		if o.path == path {
			return o.str
		}
	}
	return ""
}

// AdvancedSetting is an advanced setting as the vSphere API reports it
// (OptionManager): Value is an int64, a string or a bool.
type AdvancedSetting struct {
	Key   string
	Value any
}

// AdvancedSettings are the host's advanced settings, sorted by key.
func (h *Host) AdvancedSettings() []AdvancedSetting {
	var out []AdvancedSetting
	for _, o := range h.advancedValues() {
		var v any = o.val
		switch {
		case o.typ == "string":
			v = o.str
		case o.apiBool:
			v = o.val != 0
		}
		out = append(out, AdvancedSetting{Key: o.key(), Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
