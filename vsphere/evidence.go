package vsphere

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/vim25/types"
)

// EvidenceRequest says whose vCenter-side evidence a triage keeps.
type EvidenceRequest struct {
	// Hosts are the selected hosts by inventory name: their events, tasks
	// and advanced settings are read, and the events and tasks of the VMs
	// the inventory places on them.
	Hosts []string
	// Period bounds the events and tasks (zero: the DefaultDays up to now).
	Period Period
	// Inventory is the inventory as read at the start of the run; it is
	// kept as it is, and places the VMs.
	Inventory *Inventory
}

// Evidence part names (EvidencePart.Name).
const (
	PartInventory = "inventory"
	PartEvents    = "events"
	// PartAccessEvents are the endpoint-wide events of who logged in and
	// who changed accounts, roles and permissions: they are about no host.
	PartAccessEvents = "access-events"
	PartTasks        = "tasks"
	PartAccess       = "access"
	PartSessions     = "sessions"
	PartSettings     = "settings"
)

// EvidencePart is one part of the vCenter-side evidence: what was read,
// through which calls and why an examiner wants it, and the value read
// (to keep with StableJSON), or Err, why it could not be read.
type EvidencePart struct {
	Name string
	// Host is the host a per-host part (settings) is of.
	Host string
	// What names the calls and the scope; Why what an examiner looks for.
	What, Why string
	Value     any
	Err       error
}

// Evidence reads every part of the vCenter-side evidence of req: the
// inventory as read, the events and tasks of the selected hosts and
// their VMs over the period, the roles and permissions, the open
// sessions, and each selected host's forensic advanced settings. A part
// that cannot be read (a privilege the user lacks, an API the endpoint
// does not offer) is returned with its error and does not stop the
// others. It changes nothing on the endpoint.
func (c *Client) Evidence(ctx context.Context, req EvidenceRequest) []EvidencePart {
	now := time.Now().UTC()
	period := req.Period.window(now)
	scope := Scope{Hosts: slices.Clone(req.Hosts), Period: period}
	if req.Inventory != nil {
		for _, vm := range req.Inventory.AllVMs() {
			if slices.Contains(req.Hosts, vm.Host) {
				scope.VMs = append(scope.VMs, vm.MoRef)
			}
		}
	}
	slices.Sort(scope.VMs)
	// An empty scope would read everything: with no host selected, read
	// nothing rather than more than was asked.
	scoped := len(scope.Hosts) > 0
	within := fmt.Sprintf("hosts %v and their VMs %v, %s to %s", scope.Hosts, scope.VMs, period.Since.Format(time.RFC3339), period.Until.Format(time.RFC3339))
	var parts []EvidencePart
	add := func(p EvidencePart, read func() (any, error)) {
		v, err := read()
		p.Err = c.explain(err)
		if p.Err == nil {
			p.Value = envelope{Endpoint: c.ep.addr, ReadAt: time.Now().UTC(), Scope: p.scope(scope), Data: v}
		}
		parts = append(parts, p)
	}
	add(EvidencePart{Name: PartInventory, What: "the inventory (PropertyCollector), as read at the start of the run",
		Why: "which hosts, VMs and datastores vCenter knew, where each VM ran, lockdown and SSH states, snapshots"},
		func() (any, error) {
			if req.Inventory == nil {
				return nil, fmt.Errorf("no inventory was read")
			}
			return req.Inventory, nil
		})
	if scoped {
		add(EvidencePart{Name: PartEvents, What: "EventManager history collectors: events of " + within,
			Why: "logins and their source addresses, SSH enabled, power operations, snapshots, reconfigurations, failed logins"},
			func() (any, error) { return c.Events(ctx, scope) })
		add(EvidencePart{Name: PartTasks, What: "TaskManager history collectors: tasks of " + within,
			Why: "who started which operation on the hosts and VMs, when, and whether it succeeded"},
			func() (any, error) { return c.Tasks(ctx, scope) })
	}
	accessScope := Scope{Period: period, EventTypes: AccessEventTypes}
	add(EvidencePart{Name: PartAccessEvents, What: fmt.Sprintf("EventManager history collectors: every %v of the endpoint, %s to %s", AccessEventTypes, period.Since.Format(time.RFC3339), period.Until.Format(time.RFC3339)),
		Why: "logins and failed logins with their source addresses, sessions terminated, accounts, roles and permissions changed: they name no host"},
		func() (any, error) { return c.Events(ctx, accessScope) })
	add(EvidencePart{Name: PartAccess, What: "AuthorizationManager: every role and every permission",
		Why: "accounts and groups granted a role (an added admin, ESX Admins), roles created or widened"},
		func() (any, error) { return c.Access(ctx) })
	add(EvidencePart{Name: PartSessions, What: "SessionManager.sessionList: the sessions open now (keys kept as SHA-256)",
		Why: "who is logged in right now, from where and with which client"},
		func() (any, error) { return c.Sessions(ctx) })
	for _, h := range scope.Hosts {
		add(EvidencePart{Name: PartSettings, Host: h, What: "OptionManager of host " + h + ": advanced settings under " + fmt.Sprint(ForensicSettings),
			Why: "shell timeouts and warnings, where logs go, execInstalledOnly, lockout policy, the ESX admins group, the MOB, banners"},
			func() (any, error) { return c.HostSettings(ctx, h) })
	}
	return parts
}

// envelope is what a kept part holds: where and when it was read, for
// whom, and the data.
type envelope struct {
	Endpoint string    `json:"endpoint"`
	ReadAt   time.Time `json:"read_at"`
	Scope    *Scope    `json:"scope,omitempty"`
	Data     any       `json:"data"`
}

// scope is the scope a part was read within (events and tasks only).
func (p EvidencePart) scope(s Scope) *Scope {
	switch p.Name {
	case PartEvents, PartTasks:
		return &s
	case PartAccessEvents:
		return &Scope{Period: s.Period, EventTypes: AccessEventTypes}
	}
	return nil
}

// AccessEventTypes are the events of logins, sessions, accounts, roles
// and permissions, which vCenter posts on no host or VM.
var AccessEventTypes = []string{
	"UserLoginSessionEvent", "UserLogoutSessionEvent", "BadUsernameSessionEvent", "AlreadyAuthenticatedSessionEvent",
	"NoAccessUserEvent", "SessionTerminatedEvent", "GlobalMessageChangedEvent",
	"AccountCreatedEvent", "AccountRemovedEvent", "AccountUpdatedEvent", "UserPasswordChanged",
	"PermissionAddedEvent", "PermissionRemovedEvent", "PermissionUpdatedEvent",
	"RoleAddedEvent", "RoleRemovedEvent", "RoleUpdatedEvent",
	"com.vmware.sso.LoginSuccess", "com.vmware.sso.LoginFailure", "com.vmware.sso.Logout",
}

// explain names a privilege the user lacks or an API the endpoint does
// not offer, so that the examiner knows what to ask for.
func (c *Client) explain(err error) error {
	if err == nil {
		return nil
	}
	var np *types.NoPermission
	if _, ok := fault.As(err, &np); ok {
		return fmt.Errorf("the vCenter user lacks privilege %s on %s (%s): give the user a role with it, e.g. Read-only on the root, and run again: %w", np.PrivilegeId, np.Object.Value, c.ep.addr, err)
	}
	var ns *types.NotSupported
	var mnf *types.MethodNotFound
	_, isNS := fault.As(err, &ns)
	_, isMNF := fault.As(err, &mnf)
	if isNS || isMNF {
		return fmt.Errorf("%s does not offer this API: read it in the vSphere Client instead: %w", c.ep.addr, err)
	}
	return err
}

// StableJSON is how evidence is kept: indented JSON with a final newline,
// keys as the types declare them (snake_case, maps sorted), HTML
// characters left as they are, so the same value is always the same
// bytes.
func StableJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
