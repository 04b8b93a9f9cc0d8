package vsphere

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// ForensicSettings are the prefixes of a host's advanced settings that
// matter to an examiner: user variables (shell timeouts, the SSH and
// shell warnings), where logs go, whether only signed binaries run
// (execInstalledOnly, the ransomware hardening), account lockout and
// password policy, which AD group gets admin (CVE-2024-37085), the MOB,
// and the banners attackers like to change.
var ForensicSettings = []string{
	"UserVars.",
	"Syslog.",
	"VMkernel.Boot.execInstalledOnly",
	"Security.",
	"Config.HostAgent.plugins.hostsvc.esxAdminsGroup",
	"Config.HostAgent.plugins.solo.enableMob",
	"Annotations.WelcomeMessage",
	"Config.Etc.issue",
	"Config.Etc.motd",
}

// HostSettings are the advanced settings of one host under some
// prefixes.
type HostSettings struct {
	Host     string    `json:"host"`
	Settings []Setting `json:"settings"`
	// Missing are the prefixes the host has no setting under (older
	// versions lack some).
	Missing []string `json:"missing,omitempty"`
}

// Setting is one advanced setting; Value as text, Type the API's type of
// it (string, int64, bool, …).
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Type  string `json:"type"`
}

// HostSettings reads the host's advanced settings under each prefix
// (ForensicSettings when none is given), sorted by key. It changes
// nothing.
func (c *Client) HostSettings(ctx context.Context, host string, prefixes ...string) (*HostSettings, error) {
	if len(prefixes) == 0 {
		prefixes = ForensicSettings
	}
	h, err := c.findHost(ctx, host, "configManager.advancedOption")
	if err != nil {
		return nil, err
	}
	if h.ConfigManager.AdvancedOption == nil {
		return nil, fmt.Errorf("host %s on %s has no advanced settings to read (is it connected?)", host, c.ep.addr)
	}
	om := object.NewOptionManager(c.vim, *h.ConfigManager.AdvancedOption)
	out := &HostSettings{Host: host, Settings: []Setting{}}
	seen := map[string]bool{}
	for _, p := range prefixes {
		opts, err := om.Query(ctx, p)
		if fault.Is(err, &types.InvalidName{}) {
			out.Missing = append(out.Missing, p)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read host %s's advanced settings %s on %s: %w", host, p, c.ep.addr, err)
		}
		for _, o := range opts {
			v := o.GetOptionValue()
			if seen[v.Key] {
				continue
			}
			seen[v.Key] = true
			out.Settings = append(out.Settings, Setting{Key: v.Key, Value: fmt.Sprint(v.Value), Type: strings.TrimPrefix(fmt.Sprintf("%T", v.Value), "*")})
		}
	}
	slices.SortFunc(out.Settings, func(a, b Setting) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}
