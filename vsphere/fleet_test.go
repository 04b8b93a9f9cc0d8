package vsphere

import (
	"errors"
	"reflect"
	"testing"
)

// fleetInventory: a cluster of two hosts and a standalone one, a VM on
// no host, two VMs of one name on different hosts.
func fleetInventory() *Inventory {
	return &Inventory{Endpoint: "vc:443", Datacenters: []Datacenter{{
		Name:     "DC",
		Clusters: []Cluster{{Name: "Prod", Hosts: []string{"esx01", "esx02"}}},
		Hosts:    []Host{{Name: "esx01", Cluster: "Prod"}, {Name: "esx02", Cluster: "Prod"}, {Name: "esx03"}},
		VMs: []VM{
			{Name: "Web01", MoRef: "vm-1", Host: "esx01", VMX: "[shared] Web01/Web01.vmx"},
			{Name: "DC01", MoRef: "vm-2", Host: "esx01", VMX: "[esx01-local] DC01/DC01.vmx"},
			{Name: "DB01", MoRef: "vm-3", Host: "esx02", VMX: "[shared] DB01/DB01.vmx"},
			{Name: "a%2fb %25", MoRef: "vm-4", Host: "esx03", VMX: "[esx03-local] a_b %/a_b %.vmx"},
			{Name: "Twin", MoRef: "vm-5", Host: "esx02", VMX: "[shared] Twin/Twin.vmx"},
			{Name: "Twin", MoRef: "vm-6", Host: "esx03", VMX: "[esx03-local] Twin/Twin.vmx"},
			{Name: "Lost", MoRef: "vm-7", Host: "", VMX: "[shared] Lost/Lost.vmx"},
		},
	}}}
}

// grouped is host -> VM morefs.
func grouped(gs []HostGroup) map[string][]string {
	out := map[string][]string{}
	for _, g := range gs {
		for _, vm := range g.VMs {
			out[g.Host.Name] = append(out[g.Host.Name], vm.MoRef)
		}
	}
	return out
}

func TestGroupByHost(t *testing.T) {
	inv := fleetInventory()
	for _, tc := range []struct {
		name    string
		sel     FleetSelection
		want    map[string][]string
		orphans int
		err     error
	}{
		{"all", FleetSelection{All: true}, map[string][]string{"esx01": {"vm-2", "vm-1"}, "esx02": {"vm-3", "vm-5"}, "esx03": {"vm-6", "vm-4"}}, 1, nil},
		{"cluster", FleetSelection{Clusters: []string{"Prod"}}, map[string][]string{"esx01": {"vm-2", "vm-1"}, "esx02": {"vm-3", "vm-5"}}, 0, nil},
		{"host", FleetSelection{Hosts: []string{"esx03"}}, map[string][]string{"esx03": {"vm-6", "vm-4"}}, 0, nil},
		{"vm by unescaped name", FleetSelection{VMs: []string{"a/b %"}}, map[string][]string{"esx03": {"vm-4"}}, 0, nil},
		{"vm by vmx and moref", FleetSelection{VMs: []string{"[shared] DB01/DB01.vmx", "vm-1"}}, map[string][]string{"esx01": {"vm-1"}, "esx02": {"vm-3"}}, 0, nil},
		{"twin narrowed by host", FleetSelection{VMs: []string{"Twin"}, Hosts: []string{"esx02"}}, map[string][]string{"esx02": {"vm-5"}}, 0, nil},
		{"twin ambiguous", FleetSelection{VMs: []string{"Twin"}}, nil, 0, ErrAmbiguousVM},
		{"unknown vm", FleetSelection{VMs: []string{"Nope"}}, nil, 0, ErrNoSuchVM},
		{"unknown cluster", FleetSelection{Clusters: []string{"Dev"}}, nil, 0, ErrNoSuchCluster},
		{"unknown host", FleetSelection{Hosts: []string{"esx09"}}, nil, 0, ErrNoSuchHost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gs, orphans, err := inv.Group(tc.sel)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if got := grouped(gs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("grouped %v, want %v", got, tc.want)
			}
			if len(orphans) != tc.orphans {
				t.Errorf("%d orphans, want %d", len(orphans), tc.orphans)
			}
		})
	}
}

func TestDatastorePathAndNames(t *testing.T) {
	for in, want := range map[string][2]string{
		"[shared-vmfs01] Web01/Web01.vmx": {"shared-vmfs01", "Web01/Web01.vmx"},
		"[ds 1] a b/c.vmx":                {"ds 1", "a b/c.vmx"},
		"[ds]/x.vmx":                      {"ds", "x.vmx"},
	} {
		ds, rel, ok := DatastorePath(in)
		if !ok || ds != want[0] || rel != want[1] {
			t.Errorf("%q: %q %q %v", in, ds, rel, ok)
		}
	}
	if _, _, ok := DatastorePath("/vmfs/volumes/x"); ok {
		t.Error("a host path is not a datastore path")
	}
	if got := UnescapeName(`50%25 a%2fb%5cc`); got != `50% a/b\c` {
		t.Errorf("unescape: %q", got)
	}
}
