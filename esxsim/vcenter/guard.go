package vcenter

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// The vCenter mirrors the simulated hosts; what vcsim would change on its
// own (its folders behind the datastores, its copy of a VM, the shape of
// the inventory) would make the API and the hosts disagree, so it is
// refused. A lab changes a host through the host (SSH), and the API shows
// it.

// refusedTypes are objects all of whose methods work on VM files or VM
// state the hosts own.
var refusedTypes = map[string]bool{
	"VirtualMachine": true, "VirtualMachineSnapshot": true, "Datastore": true, "HostDatastoreBrowser": true,
	"HostDatastoreSystem": true, "HostStorageSystem": true, "FileManager": true, "VirtualDiskManager": true,
	"OvfManager": true, "VcenterVStorageObjectManager": true, "GuestOperationsManager": true,
}

// refusedMethods change the inventory's shape or a host's state on any
// object.
var refusedMethods = map[string]bool{
	"CreateVM_Task": true, "RegisterVM_Task": true, "CreateChildVM_Task": true, "ImportVApp": true,
	"AddStandaloneHost_Task": true, "AddHost_Task": true, "Destroy_Task": true, "UnregisterAndDestroy_Task": true,
	"MoveIntoFolder_Task": true, "MoveInto_Task": true, "MoveHostInto_Task": true, "Rename_Task": true,
	"CreateCluster": true, "CreateClusterEx": true, "CreateDatacenter": true, "CreateFolder": true,
	"DisconnectHost_Task": true, "ReconnectHost_Task": true, "EnterMaintenanceMode_Task": true,
	"ExitMaintenanceMode_Task": true, "ShutdownHost_Task": true, "RebootHost_Task": true,
	"EnterLockdownMode": true, "ExitLockdownMode": true,
}

// handle runs before every call: it refuses what the lab does not allow
// and, before a client reads properties, reads the hosts' state.
func (v *VCenter) handle(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
	for _, d := range v.spec.Denied {
		if d.Method == m.Name {
			v.log.Info("denied", "method", m.Name, "object", m.This.String(), "privilege", d.Privilege)
			return nil, &types.NoPermission{Object: &m.This, PrivilegeId: d.Privilege}
		}
	}
	if f := v.refusal(m); f != nil {
		v.log.Info("refused", "method", m.Name, "object", m.This.String())
		return nil, f
	}
	if m.This.Type == "PropertyCollector" {
		v.sync(ctx)
	}
	return nil, nil
}

func (v *VCenter) refusal(m *simulator.Method) types.BaseMethodFault {
	hostOptions := m.Name == "UpdateOptions" && slices.ContainsFunc(v.hostList(), func(lh *labHost) bool { return lh.options == m.This })
	if !refusedTypes[m.This.Type] && !refusedMethods[m.Name] && !hostOptions {
		return nil
	}
	msg := fmt.Sprintf("%s on %s: the lab's vCenter mirrors the simulated hosts and does not change them this way; change the host through its shell (SSH)", m.Name, m.This)
	return &types.NotSupported{RuntimeFault: types.RuntimeFault{MethodFault: types.MethodFault{
		FaultMessage: []types.LocalizableMessage{{Key: "com.esxsink.lab.mirror", Message: msg}},
	}}}
}

// guardFiles refuses vcsim's datastore file transfers (/folder), which
// would read and write vcsim's folders instead of the hosts' volumes.
// Method patterns are more specific than vcsim's "/folder/", so they win.
func (v *VCenter) guardFiles(svc *simulator.Service) {
	refuse := func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the lab's vCenter does not transfer datastore files: read them on the host (SSH)", http.StatusForbidden)
	}
	if svc.ServeMux == nil {
		// NewServer registers vcsim's handlers on this mux.
		svc.ServeMux = http.NewServeMux()
	}
	for _, p := range []string{"GET /folder/", "PUT /folder/", "POST /folder/", "DELETE /folder/"} {
		svc.ServeMux.HandleFunc(p, refuse)
	}
}
