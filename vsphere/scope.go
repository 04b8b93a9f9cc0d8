package vsphere

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// DefaultDays is how far back events and tasks are read by default:
// what vCenter keeps by default (event.maxAge and task.maxAge, 30 days).
const DefaultDays = 30

// Period is a time window, both ends included.
type Period struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
}

// LastDays is the period of the days before now.
func LastDays(now time.Time, days int) Period {
	now = now.UTC()
	return Period{Since: now.AddDate(0, 0, -days), Until: now}
}

// Scope says whose events and tasks to read and when. Hosts are named as
// the inventory names them, VMs by moref (two VMs may share a name);
// with neither, everything the endpoint has.
type Scope struct {
	Hosts  []string `json:"hosts,omitempty"`
	VMs    []string `json:"vms,omitempty"`
	Period Period   `json:"period"`
	// EventTypes limits events to these types (class names such as
	// UserLoginSessionEvent, or extended event ids); empty: every type.
	EventTypes []string `json:"event_types,omitempty"`
}

// entities resolves the scope to managed object references: the root
// folder when the scope names nothing.
func (c *Client) entities(ctx context.Context, s Scope) ([]types.ManagedObjectReference, error) {
	if len(s.Hosts) == 0 && len(s.VMs) == 0 {
		return []types.ManagedObjectReference{c.vim.ServiceContent.RootFolder}, nil
	}
	var refs []types.ManagedObjectReference
	if len(s.Hosts) > 0 {
		var hosts []mo.HostSystem
		if err := c.retrieve(ctx, c.vim.ServiceContent.RootFolder, "HostSystem", []string{"name"}, &hosts); err != nil {
			return nil, err
		}
		for _, name := range s.Hosts {
			i := slices.IndexFunc(hosts, func(h mo.HostSystem) bool { return h.Name == name })
			if i < 0 {
				return nil, fmt.Errorf("%w %q on %s", ErrNoSuchHost, name, c.ep.addr)
			}
			refs = append(refs, hosts[i].Self)
		}
	}
	for _, v := range s.VMs {
		refs = append(refs, types.ManagedObjectReference{Type: "VirtualMachine", Value: v})
	}
	return refs, nil
}

// recursion is how far below ref its events and tasks are read: the
// root folder's are everything's; a host's or VM's are those about it.
func (c *Client) recursion(ref types.ManagedObjectReference) types.EventFilterSpecRecursionOption {
	if ref == c.vim.ServiceContent.RootFolder {
		return types.EventFilterSpecRecursionOptionAll
	}
	return types.EventFilterSpecRecursionOptionSelf
}

// pageSize is how many items each read of a history collector asks for:
// the most the API returns at once.
const pageSize = 1000

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// window fills in what a period leaves zero: until now, since DefaultDays
// before its end.
func (p Period) window(now time.Time) Period {
	if p.Until.IsZero() {
		p.Until = now.UTC()
	}
	if p.Since.IsZero() {
		p.Since = p.Until.AddDate(0, 0, -DefaultDays)
	}
	return p
}

// ParseSince reads a --since value into the period from it up to now:
// "" is the DefaultDays; a number of days ("30d"), weeks ("2w") or a Go
// duration ("36h"); a date ("2026-11-01", midnight UTC) or an RFC 3339
// time. A start after now is refused.
func ParseSince(s string, now time.Time) (Period, error) {
	now = now.UTC()
	s = strings.TrimSpace(s)
	if s == "" {
		return LastDays(now, DefaultDays), nil
	}
	var since time.Time
	if n, unit, ok := cutCount(s); ok && (unit == "d" || unit == "w") {
		days := n
		if unit == "w" {
			days = 7 * n
		}
		since = now.AddDate(0, 0, -days)
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		since = now.Add(-d)
	} else if t, err := time.Parse(time.DateOnly, s); err == nil {
		since = t.UTC()
	} else if t, err := time.Parse(time.RFC3339, s); err == nil {
		since = t.UTC()
	} else {
		return Period{}, fmt.Errorf("--since %q: give a number of days (30d), weeks (2w) or hours (36h), a date (2026-11-01, UTC) or a time (2026-11-01T08:00:00Z)", s)
	}
	if since.After(now) {
		return Period{}, fmt.Errorf("--since %q is after now (%s)", s, now.Format(time.RFC3339))
	}
	return Period{Since: since, Until: now}, nil
}

// cutCount splits "30d" into 30 and "d".
func cutCount(s string) (int, string, bool) {
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i <= 0 {
		return 0, "", false
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil || n <= 0 {
		return 0, "", false
	}
	return n, s[i:], true
}
