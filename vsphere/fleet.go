package vsphere

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Errors of a fleet selection: the examiner's mistakes, named.
var (
	// ErrNoSuchVM: a --vm matches no VM of the selection's scope.
	ErrNoSuchVM = errors.New("no such VM")
	// ErrAmbiguousVM: a --vm name matches several VMs.
	ErrAmbiguousVM = errors.New("VMs are named")
	// ErrNoSuchCluster: a cluster the selection names is not in the inventory.
	ErrNoSuchCluster = errors.New("no such cluster")
	// ErrNothingSelected: the selection chose no VM.
	ErrNothingSelected = errors.New("the selection chose no VM")
)

// FleetSelection is what an examiner asks to collect across the hosts an
// endpoint manages. Clusters and Hosts narrow the scope (empty: every
// host); within it All, or no VMs, chooses every VM, and VMs choose by
// name (as the API shows it, or unescaped), moref or .vmx path
// ("[datastore] folder/name.vmx").
type FleetSelection struct {
	All      bool
	VMs      []string
	Clusters []string
	Hosts    []string
}

// HostGroup is one host and the selected VMs it runs (a VM that is off:
// the host it is registered on), in name order.
type HostGroup struct {
	Host Host
	VMs  []VM
}

// Group selects VMs from the inventory and groups them by the host that
// runs them. Hosts come in name order; hosts with no selected VM are left
// out. Selected VMs on no host (orphaned) are returned apart: no host can
// collect them.
func (inv *Inventory) Group(sel FleetSelection) (groups []HostGroup, orphans []VM, err error) {
	hosts, inScope, err := inv.scope(sel)
	if err != nil {
		return nil, nil, err
	}
	scoped := len(sel.Clusters) > 0 || len(sel.Hosts) > 0
	var pool []VM
	for _, vm := range inv.AllVMs() {
		if !scoped || inScope[vm.Host] {
			pool = append(pool, vm)
		}
	}
	chosen := map[string]VM{}
	if sel.All || len(sel.VMs) == 0 {
		for _, vm := range pool {
			chosen[vm.MoRef] = vm
		}
	}
	for _, n := range sel.VMs {
		var match []VM
		for _, vm := range pool {
			if vm.Name == n || UnescapeName(vm.Name) == n || vm.MoRef == n || vm.VMX == n {
				match = append(match, vm)
			}
		}
		switch len(match) {
		case 0:
			return nil, nil, fmt.Errorf("%w %q on %s (names match exactly, blanks included)", ErrNoSuchVM, n, inv.Endpoint)
		case 1:
			chosen[match[0].MoRef] = match[0]
		default:
			var refs []string
			for _, vm := range match {
				refs = append(refs, vm.MoRef+" on "+vm.Host)
			}
			return nil, nil, fmt.Errorf("%d %w %q on %s (%s): choose one by moref or .vmx path", len(match), ErrAmbiguousVM, n, inv.Endpoint, strings.Join(refs, ", "))
		}
	}
	if len(chosen) == 0 {
		return nil, nil, ErrNothingSelected
	}
	byHost := map[string][]VM{}
	for _, vm := range chosen {
		if _, ok := hosts[vm.Host]; !ok {
			orphans = append(orphans, vm)
			continue
		}
		byHost[vm.Host] = append(byHost[vm.Host], vm)
	}
	for _, name := range sortedKeys(byHost) {
		vms := byHost[name]
		slices.SortFunc(vms, func(a, b VM) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.MoRef, b.MoRef)) })
		groups = append(groups, HostGroup{Host: hosts[name], VMs: vms})
	}
	slices.SortFunc(orphans, func(a, b VM) int { return cmp.Compare(a.MoRef, b.MoRef) })
	return groups, orphans, nil
}

// SelectHosts is the hosts the selection's scope names (Clusters and
// Hosts), every host when it names none, in name order; its VMs are not
// looked at.
func (inv *Inventory) SelectHosts(sel FleetSelection) ([]Host, error) {
	hosts, inScope, err := inv.scope(sel)
	if err != nil {
		return nil, err
	}
	scoped := len(sel.Clusters) > 0 || len(sel.Hosts) > 0
	var out []Host
	for _, name := range sortedKeys(hosts) {
		if !scoped || inScope[name] {
			out = append(out, hosts[name])
		}
	}
	return out, nil
}

// scope resolves the selection's clusters and hosts: every host by name,
// and those in scope (none when the selection names neither).
func (inv *Inventory) scope(sel FleetSelection) (hosts map[string]Host, inScope map[string]bool, err error) {
	hosts = map[string]Host{}
	for _, h := range inv.AllHosts() {
		hosts[h.Name] = h
	}
	inScope = map[string]bool{}
	for _, c := range sel.Clusters {
		found := false
		for _, dc := range inv.Datacenters {
			for _, cl := range dc.Clusters {
				if cl.Name == c {
					found = true
					for _, h := range cl.Hosts {
						inScope[h] = true
					}
				}
			}
		}
		if !found {
			return nil, nil, fmt.Errorf("%w %q on %s", ErrNoSuchCluster, c, inv.Endpoint)
		}
	}
	for _, h := range sel.Hosts {
		if _, ok := hosts[h]; !ok {
			return nil, nil, fmt.Errorf("%w %q on %s (it has %s)", ErrNoSuchHost, h, inv.Endpoint, strings.Join(sortedKeys(hosts), ", "))
		}
		inScope[h] = true
	}
	return hosts, inScope, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// nameEscapes undoes the escapes vSphere puts in an entity's name.
var nameEscapes = strings.NewReplacer("%25", "%", "%2f", "/", "%2F", "/", "%5c", `\`, "%5C", `\`)

// UnescapeName is a VM's name as its host stores it: vSphere shows %, /
// and \ in an entity's name as %25, %2f and %5c.
func UnescapeName(name string) string { return nameEscapes.Replace(name) }

// DatastorePath splits a datastore path, "[datastore] folder/name.vmx",
// into the datastore's name and the path inside it.
func DatastorePath(p string) (datastore, rel string, ok bool) {
	if !strings.HasPrefix(p, "[") {
		return "", "", false
	}
	end := strings.Index(p, "]")
	if end < 0 {
		return "", "", false
	}
	return p[1:end], strings.TrimLeft(strings.TrimPrefix(p[end+1:], " "), "/"), true
}
