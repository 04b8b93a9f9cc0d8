package main

import (
	"slices"
	"testing"

	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/orchestrator"
	"github.com/esxsink/esxsink/vsphere"
)

// TestCompareViews: the API's and SSH's lists of a host's VMs are
// matched by .vmx path, whether the host names the datastore by UUID or
// label, with names vSphere escapes; what only one side has is told
// apart, and only selected VMs are collected.
func TestCompareViews(t *testing.T) {
	inv := &orchestrator.Inventory{
		Datastores: []esxi.Filesystem{
			{MountPoint: "/vmfs/volumes/5f1e-aaaa", VolumeName: "shared", UUID: "5f1e-aaaa", Mounted: true},
			{MountPoint: "/vmfs/volumes/5f1e-bbbb", VolumeName: "local", UUID: "5f1e-bbbb", Mounted: true},
		},
		VMs: []*orchestrator.VM{
			{ID: 1, Name: "Web01", Registered: true, VMX: "/vmfs/volumes/5f1e-aaaa/Web01/Web01.vmx"},
			{ID: 2, Name: "a%b/c", Registered: true, VMX: "/vmfs/volumes/local/a%b_c/a%b_c.vmx"},
			{ID: 3, Name: "Hidden", Registered: true, VMX: "/vmfs/volumes/local/Hidden/Hidden.vmx"},
			{Name: "Old", VMX: "/vmfs/volumes/local/Old/Old.vmx"},
		},
	}
	api := []vsphere.VM{
		{Name: "Web01", MoRef: "vm-1", VMX: "[shared] Web01/Web01.vmx"},
		{Name: "a%25b%2fc", MoRef: "vm-2", VMX: "[local] a%b_c/a%b_c.vmx"},
		{Name: "Ghost", MoRef: "vm-9", VMX: "[shared] Ghost/Ghost.vmx"},
		{Name: "Old", MoRef: "vm-4", VMX: "[local] Old/Old.vmx"},
	}
	v := compareViews(api, inv, map[string]bool{"vm-1": true, "vm-2": true, "vm-9": true})
	var apiOnly, sshOnly []string
	for _, vm := range v.apiOnly {
		apiOnly = append(apiOnly, vm.MoRef)
	}
	for _, vm := range v.sshOnly {
		sshOnly = append(sshOnly, vm.Name)
	}
	if !slices.Equal(apiOnly, []string{"vm-9", "vm-4"}) {
		t.Errorf("API only: %v (an unregistered VM on the host is not the API's)", apiOnly)
	}
	if !slices.Equal(sshOnly, []string{"Hidden"}) {
		t.Errorf("SSH only: %v", sshOnly)
	}
	if want := []string{"/vmfs/volumes/5f1e-aaaa/Web01/Web01.vmx", "/vmfs/volumes/local/a%b_c/a%b_c.vmx"}; !slices.Equal(v.selectedVMX, want) {
		t.Errorf("selected %v, want %v", v.selectedVMX, want)
	}
}
