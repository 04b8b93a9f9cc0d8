package vcenter

import (
	"strings"
	"testing"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/esxsim"
)

// TestDeniedCalls: a call the scenario denies is refused with
// NoPermission naming the privilege, as a real vCenter refuses a narrow
// account; the calls it does not name still work.
func TestDeniedCalls(t *testing.T) {
	l := startLabWith(t, func(sc *esxsim.FleetScenario) {
		sc.VCenter.Denied = []esxsim.DeniedCall{{Method: "RetrieveAllPermissions", Privilege: "System.View"}}
	})
	c := l.client()
	am := object.NewAuthorizationManager(c.Client)
	_, err := am.RetrieveAllPermissions(t.Context())
	var np *types.NoPermission
	if _, ok := fault.As(err, &np); !ok || np.PrivilegeId != "System.View" {
		t.Errorf("a denied call: %v", err)
	}
	if roles, err := am.RoleList(t.Context()); err != nil || len(roles) == 0 {
		t.Errorf("a call not denied: %d roles, %v", len(roles), err)
	}
	if _, err := esxsim.ParseFleet([]byte("vcenter: {denied: [{privilege: X}]}\nhosts: [{host: {hostname: a}}]\n")); err == nil || !strings.Contains(err.Error(), "names no method") {
		t.Errorf("a denied call without a method: %v", err)
	}
}
