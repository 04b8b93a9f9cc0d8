package vsphere

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Access is who may do what on the endpoint: its roles and every
// permission that grants one.
type Access struct {
	Roles       []Role       `json:"roles"`
	Permissions []Permission `json:"permissions"`
}

// Role is a set of privileges. System roles (Admin, ReadOnly, NoAccess,
// …) cannot be changed; a new role is worth a look.
type Role struct {
	ID         int32    `json:"id"`
	Name       string   `json:"name"`
	Label      string   `json:"label,omitempty"`
	System     bool     `json:"system"`
	Privileges []string `json:"privileges"`
}

// Permission grants a role to a user or group on an entity (and, with
// Propagate, on everything below it).
type Permission struct {
	Entity      string `json:"entity"`
	EntityMoRef string `json:"entity_moref"`
	EntityType  string `json:"entity_type"`
	Principal   string `json:"principal"`
	Group       bool   `json:"group"`
	RoleID      int32  `json:"role_id"`
	Role        string `json:"role"`
	Propagate   bool   `json:"propagate"`
}

// Access reads the endpoint's roles and permissions. It changes nothing.
func (c *Client) Access(ctx context.Context) (*Access, error) {
	am := object.NewAuthorizationManager(c.vim)
	roles, err := am.RoleList(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the roles of %s: %w", c.ep.addr, err)
	}
	perms, err := am.RetrieveAllPermissions(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the permissions of %s: %w", c.ep.addr, err)
	}
	names, err := c.entityNames(ctx, perms)
	if err != nil {
		return nil, err
	}
	out := &Access{Roles: []Role{}, Permissions: []Permission{}}
	roleName := map[int32]string{}
	for _, r := range roles {
		roleName[r.RoleId] = r.Name
		privs := slices.Clone(r.Privilege)
		if privs == nil {
			privs = []string{}
		}
		slices.Sort(privs)
		label := ""
		if d := r.Info.GetDescription(); d != nil {
			label = d.Label
		}
		out.Roles = append(out.Roles, Role{ID: r.RoleId, Name: r.Name, Label: label, System: r.System, Privileges: privs})
	}
	for _, p := range perms {
		perm := Permission{Principal: p.Principal, Group: p.Group, RoleID: p.RoleId, Role: roleName[p.RoleId], Propagate: p.Propagate}
		if p.Entity != nil {
			perm.Entity, perm.EntityMoRef, perm.EntityType = names[*p.Entity], p.Entity.Value, p.Entity.Type
		}
		out.Permissions = append(out.Permissions, perm)
	}
	slices.SortFunc(out.Roles, func(a, b Role) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(out.Permissions, func(a, b Permission) int {
		return cmp.Or(cmp.Compare(a.EntityType, b.EntityType), cmp.Compare(a.EntityMoRef, b.EntityMoRef), cmp.Compare(a.Principal, b.Principal), cmp.Compare(a.RoleID, b.RoleID))
	})
	return out, nil
}

// entityNames reads the names of the entities perms grant on.
func (c *Client) entityNames(ctx context.Context, perms []types.Permission) (map[types.ManagedObjectReference]string, error) {
	var refs []types.ManagedObjectReference
	for _, p := range perms {
		if p.Entity != nil && !slices.Contains(refs, *p.Entity) {
			refs = append(refs, *p.Entity)
		}
	}
	names := map[types.ManagedObjectReference]string{}
	if len(refs) == 0 {
		return names, nil
	}
	var ents []mo.ManagedEntity
	if err := property.DefaultCollector(c.vim).Retrieve(ctx, refs, []string{"name"}, &ents); err != nil {
		return nil, fmt.Errorf("read the names of the entities permissions are set on at %s: %w", c.ep.addr, err)
	}
	for _, e := range ents {
		names[e.Self] = e.Name
	}
	return names, nil
}
