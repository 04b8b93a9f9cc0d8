package vsphere

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/vmware/govmomi/vim25/mo"
)

// ErrNoSuchHost: no ESXi host of that name is in the endpoint's
// inventory (or the session may not see it).
var ErrNoSuchHost = errors.New("no such ESXi host")

// findHost finds the host named name (as the inventory lists it) and
// reads props of it.
func (c *Client) findHost(ctx context.Context, name string, props ...string) (mo.HostSystem, error) {
	var hosts []mo.HostSystem
	if err := c.retrieve(ctx, c.vim.ServiceContent.RootFolder, "HostSystem", append([]string{"name"}, props...), &hosts); err != nil {
		return mo.HostSystem{}, err
	}
	var found []mo.HostSystem
	var all []string
	for _, h := range hosts {
		all = append(all, h.Name)
		if h.Name == name {
			found = append(found, h)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		slices.Sort(all)
		return mo.HostSystem{}, fmt.Errorf("%w %q on %s (it has %d: %v)", ErrNoSuchHost, name, c.ep.addr, len(all), all)
	}
	return mo.HostSystem{}, fmt.Errorf("%d hosts are named %q on %s: the name does not say which", len(found), name, c.ep.addr)
}

// LockdownMode reads the host's lockdown mode (one of the Lockdown
// constants; "" when the host does not say, e.g. while disconnected).
func (c *Client) LockdownMode(ctx context.Context, host string) (string, error) {
	h, err := c.findHost(ctx, host, "config.lockdownMode")
	if err != nil {
		return "", err
	}
	if h.Config == nil {
		return "", nil
	}
	return string(h.Config.LockdownMode), nil
}
