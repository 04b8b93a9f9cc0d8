package vsphere

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/vim25/types"
)

// Event is one vCenter or host event.
type Event struct {
	Key     int32 `json:"key"`
	ChainID int32 `json:"chain_id"`
	// Type is the event's class (VmPoweredOffEvent, UserLoginSessionEvent,
	// …) or, for an extended event, its event type id.
	Type     string    `json:"type"`
	Created  time.Time `json:"created"`
	User     string    `json:"user,omitempty"`
	Message  string    `json:"message"`
	Severity string    `json:"severity,omitempty"`
	// What the event is about, by name (and moref for hosts and VMs).
	Datacenter      string `json:"datacenter,omitempty"`
	ComputeResource string `json:"compute_resource,omitempty"`
	Host            string `json:"host,omitempty"`
	HostMoRef       string `json:"host_moref,omitempty"`
	VM              string `json:"vm,omitempty"`
	VMMoRef         string `json:"vm_moref,omitempty"`
	Datastore       string `json:"datastore,omitempty"`
	// Logins and logouts: where from, with what, which session (its key
	// hashed as Session.KeySHA256 is).
	IPAddress     string `json:"ip_address,omitempty"`
	UserAgent     string `json:"user_agent,omitempty"`
	SessionSHA256 string `json:"session_sha256,omitempty"`
}

// Events reads the events of the scope's hosts and VMs (or of everything)
// in its period (by default the DefaultDays up to now), oldest first. It
// changes nothing on the endpoint (the
// history collectors it opens are its session's and are destroyed).
func (c *Client) Events(ctx context.Context, s Scope) ([]Event, error) {
	refs, err := c.entities(ctx, s)
	if err != nil {
		return nil, err
	}
	s.Period = s.Period.window(time.Now())
	seen := map[int32]bool{}
	var out []Event
	for _, ref := range refs {
		filter := types.EventFilterSpec{
			Entity:      &types.EventFilterSpecByEntity{Entity: ref, Recursion: c.recursion(ref)},
			Time:        &types.EventFilterSpecByTime{BeginTime: &s.Period.Since, EndTime: &s.Period.Until},
			EventTypeId: s.EventTypes,
		}
		events, err := c.readEvents(ctx, filter)
		if err != nil {
			return nil, fmt.Errorf("events of %s %s on %s: %w", ref.Type, ref.Value, c.ep.addr, err)
		}
		for _, e := range events {
			if ev := eventOf(e); !seen[ev.Key] {
				seen[ev.Key] = true
				out = append(out, ev)
			}
		}
	}
	slices.SortFunc(out, func(a, b Event) int { return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.Key, b.Key)) })
	return out, nil
}

// readEvents reads a collector for filter from its oldest event on. A
// new collector is rewound already (the API reference calls the oldest
// item the default position); rewinding it again would make vcsim skip
// that item.
func (c *Client) readEvents(ctx context.Context, filter types.EventFilterSpec) ([]types.BaseEvent, error) {
	hc, err := event.NewManager(c.vim).CreateCollectorForEvents(ctx, filter)
	if err != nil {
		return nil, err
	}
	defer hc.Destroy(context.WithoutCancel(ctx))
	var all []types.BaseEvent
	for {
		page, err := hc.ReadNextEvents(ctx, pageSize)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return all, nil
		}
		all = append(all, page...)
	}
}

func eventOf(be types.BaseEvent) Event {
	e := be.GetEvent()
	out := Event{
		Key: e.Key, ChainID: e.ChainId, Type: reflect.TypeOf(be).Elem().Name(), Created: e.CreatedTime.UTC(),
		User: e.UserName, Message: e.FullFormattedMessage,
	}
	if e.Datacenter != nil {
		out.Datacenter = e.Datacenter.Name
	}
	if e.ComputeResource != nil {
		out.ComputeResource = e.ComputeResource.Name
	}
	if e.Host != nil {
		out.Host, out.HostMoRef = e.Host.Name, e.Host.Host.Value
	}
	if e.Vm != nil {
		out.VM, out.VMMoRef = e.Vm.Name, e.Vm.Vm.Value
	}
	if e.Ds != nil {
		out.Datastore = e.Ds.Name
	}
	if g, ok := be.(types.BaseGeneralEvent); ok && out.Message == "" {
		out.Message = g.GetGeneralEvent().Message
	}
	switch x := be.(type) {
	case *types.EventEx:
		out.Type, out.Severity = x.EventTypeId, x.Severity
		if out.Message == "" {
			out.Message = x.Message
		}
	case *types.ExtendedEvent:
		out.Type = x.EventTypeId
	case *types.UserLoginSessionEvent:
		out.IPAddress, out.UserAgent, out.SessionSHA256 = x.IpAddress, x.UserAgent, keyHash(x.SessionId)
	case *types.UserLogoutSessionEvent:
		out.IPAddress, out.UserAgent, out.SessionSHA256 = x.IpAddress, x.UserAgent, keyHash(x.SessionId)
	case *types.BadUsernameSessionEvent:
		out.IPAddress = x.IpAddress
	}
	return out
}

// keyHash identifies a session without keeping its key: on some vCenter
// versions the key lets whoever holds it act as the session's user.
func keyHash(key string) string {
	if key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
