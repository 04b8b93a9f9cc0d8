package vsphere_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/vsphere"
)

// TestEvidenceParts: every part of the vCenter-side evidence of one host
// is read, each keeps as stable JSON (the same value, the same bytes;
// snake_case keys; events scoped to the host and its VMs); a part the
// user may not read is returned with an error naming the privilege, and
// the others are still read.
func TestEvidenceParts(t *testing.T) {
	s := startSim(t, simulator.VPX())
	c := s.dial(t, s.config())
	ctx := t.Context()
	inv, err := c.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := inv.SelectHosts(vsphere.FleetSelection{Hosts: []string{inv.AllHosts()[0].Name}})
	if err != nil || len(hosts) != 1 {
		t.Fatalf("select hosts: %v %v", hosts, err)
	}
	host := hosts[0].Name
	parts := c.Evidence(ctx, vsphere.EvidenceRequest{Hosts: []string{host}, Inventory: inv})
	var names []string
	for _, p := range parts {
		names = append(names, p.Name+" "+p.Host)
		if p.Err != nil {
			t.Errorf("part %s: %v", p.Name, p.Err)
			continue
		}
		a, err := vsphere.StableJSON(p.Value)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := vsphere.StableJSON(p.Value)
		if !bytes.Equal(a, b) || !bytes.HasSuffix(a, []byte("}\n")) {
			t.Errorf("part %s does not keep the same bytes twice", p.Name)
		}
		checkSnakeCase(t, a)
		var env struct {
			Endpoint string          `json:"endpoint"`
			Scope    *vsphere.Scope  `json:"scope"`
			Data     json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(a, &env); err != nil || env.Endpoint == "" || len(env.Data) < 2 {
			t.Errorf("part %s: %v %s", p.Name, err, a)
		}
		if p.Name == vsphere.PartAccessEvents {
			var events []vsphere.Event
			if err := json.Unmarshal(env.Data, &events); err != nil {
				t.Fatal(err)
			}
			logins := 0
			for _, e := range events {
				if !slices.Contains(vsphere.AccessEventTypes, e.Type) {
					t.Errorf("access events hold a %s", e.Type)
				}
				if e.Type == "UserLoginSessionEvent" {
					logins++
				}
			}
			if logins == 0 {
				t.Errorf("access events lack our own login: %s", a)
			}
		}
		if p.Name == vsphere.PartEvents && (env.Scope == nil || !slices.Equal(env.Scope.Hosts, []string{host}) || env.Scope.Period.Since.IsZero()) {
			t.Errorf("events kept without their scope: %s", a)
		}
	}
	want := []string{"inventory ", "events ", "tasks ", "access-events ", "access ", "sessions ", "settings " + host}
	if !slices.Equal(names, want) {
		t.Errorf("parts %q, want %q", names, want)
	}

	// A user without the privilege to read permissions.
	s.model.Map().Handler = func(_ *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		if m.Name == "RetrieveAllPermissions" {
			return nil, &types.NoPermission{Object: &m.This, PrivilegeId: "System.View"}
		}
		return nil, nil
	}
	parts = c.Evidence(ctx, vsphere.EvidenceRequest{Hosts: []string{host}, Inventory: inv})
	for _, p := range parts {
		switch {
		case p.Name == vsphere.PartAccess && (p.Err == nil || !strings.Contains(p.Err.Error(), "lacks privilege System.View")):
			t.Errorf("access without the privilege: %v", p.Err)
		case p.Name != vsphere.PartAccess && p.Err != nil:
			t.Errorf("part %s failed with access: %v", p.Name, p.Err)
		}
	}
}
