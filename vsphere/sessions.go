package vsphere

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
)

// Session is one session open on the endpoint. Its key is kept only as
// its SHA-256 (see Event.SessionSHA256, which hashes login events' keys
// the same way): on some vCenter versions the key itself lets whoever
// holds it act as the session's user.
type Session struct {
	KeySHA256  string    `json:"key_sha256"`
	User       string    `json:"user"`
	FullName   string    `json:"full_name,omitempty"`
	LoginTime  time.Time `json:"login_time"`
	LastActive time.Time `json:"last_active"`
	IPAddress  string    `json:"ip_address,omitempty"`
	UserAgent  string    `json:"user_agent,omitempty"`
	CallCount  int64     `json:"call_count"`
	// Current marks this Client's own session.
	Current bool `json:"current"`
}

// Sessions lists the sessions open on the endpoint, oldest login first.
// Seeing other users' sessions needs the Sessions.TerminateSession
// privilege; without it the endpoint lists only the caller's own.
func (c *Client) Sessions(ctx context.Context) ([]Session, error) {
	var sm mo.SessionManager
	ref := c.sessions.Reference()
	if err := property.DefaultCollector(c.vim).RetrieveOne(ctx, ref, []string{"sessionList", "currentSession"}, &sm); err != nil {
		return nil, fmt.Errorf("read the sessions of %s: %w", c.ep.addr, err)
	}
	current := ""
	if sm.CurrentSession != nil {
		current = sm.CurrentSession.Key
	}
	out := []Session{}
	for _, s := range sm.SessionList {
		out = append(out, Session{
			KeySHA256: keyHash(s.Key), User: s.UserName, FullName: s.FullName, LoginTime: s.LoginTime.UTC(), LastActive: s.LastActiveTime.UTC(),
			IPAddress: s.IpAddress, UserAgent: s.UserAgent, CallCount: s.CallCount, Current: s.Key == current,
		})
	}
	slices.SortFunc(out, func(a, b Session) int {
		return cmp.Or(a.LoginTime.Compare(b.LoginTime), cmp.Compare(a.KeySHA256, b.KeySHA256))
	})
	return out, nil
}
