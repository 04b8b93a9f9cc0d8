package vcenter

import (
	"fmt"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// dressHost gives a host its scenario identity (product, build, address,
// boot time, lockdown mode, advanced settings) and the managed objects
// vcsim lacks: its service system and access manager.
func (v *VCenter) dressHost(ctx *simulator.Context, lh *labHost) {
	hs := ctx.Map.Get(lh.ref).(*simulator.HostSystem)
	sc := lh.h.Scenario()
	spec := sc.Host
	about := types.AboutInfo{
		Name: "VMware ESXi", FullName: fmt.Sprintf("VMware ESXi %s build-%s", spec.Version, spec.Build),
		Vendor: "VMware, Inc.", Version: spec.Version, Build: spec.Build, LocaleVersion: "INTL", LocaleBuild: "000",
		OsType: "vmnix-x86", ProductLineId: "embeddedEsx", ApiType: "HostAgent", ApiVersion: apiVersion(spec.Version),
		LicenseProductName: "VMware ESX Server", LicenseProductVersion: majorMinor(spec.Version),
	}
	// Summary.Config.Product points into vcsim's host template: replace
	// the pointer, never write through it. Config is a deep copy.
	hs.Summary.Config.Product = &about
	hs.Config.Product = about
	if n := hs.Config.Network; n != nil && len(n.Vnic) > 0 && n.Vnic[0].Spec.Ip != nil {
		n.Vnic[0].Spec.Ip.IpAddress = spec.Address
	}
	// The vmkernel interfaces tagged for management (where SSH reaches
	// the host) are copies of vmk0 in vcsim's template: the same address.
	if info := hs.Config.VirtualNicManagerInfo; info != nil {
		for i := range info.NetConfig {
			for j := range info.NetConfig[i].CandidateVnic {
				if nic := &info.NetConfig[i].CandidateVnic[j]; nic.Device == "vmk0" && nic.Spec.Ip != nil {
					ip := *nic.Spec.Ip
					ip.IpAddress = spec.Address
					nic.Spec.Ip = &ip
				}
			}
		}
	}
	if n := hs.Config.Network; n != nil && n.DnsConfig != nil {
		if d := n.DnsConfig.GetHostDnsConfig(); d != nil {
			d.HostName, d.DomainName = spec.Hostname, spec.Domain
		}
	}
	// esxsim's hosts booted three days before the scenario starts.
	boot := sc.Start.Add(-72 * time.Hour)
	hs.Runtime.BootTime = &boot

	mode := lockdownMode(lh.h.Lockdown())
	hs.Config.LockdownMode = mode
	hs.Config.AdminDisabled = types.NewBool(mode != types.HostLockdownModeLockdownDisabled)

	svc := &serviceSystem{vc: v, lh: lh}
	svc.Self = types.ManagedObjectReference{Type: "HostServiceSystem", Value: "serviceSystem-" + lh.ref.Value}
	hs.Config.Service = &types.HostServiceInfo{Service: v.services(hs, lh)}
	svc.ServiceInfo = *hs.Config.Service
	ctx.Map.Put(svc)
	lh.services = svc.Self
	hs.ConfigManager.ServiceSystem = &lh.services

	acc := &accessManager{vc: v, lh: lh}
	acc.Self = types.ManagedObjectReference{Type: "HostAccessManager", Value: "accessManager-" + lh.ref.Value}
	acc.LockdownMode = mode
	ctx.Map.Put(acc)
	lh.access = acc.Self
	hs.ConfigManager.HostAccessManager = &lh.access

	lh.options = *hs.ConfigManager.AdvancedOption
	var opts []types.BaseOptionValue
	for _, s := range lh.h.AdvancedSettings() {
		opts = append(opts, &types.OptionValue{Key: s.Key, Value: s.Value})
	}
	om := ctx.Map.Get(lh.options).(*simulator.OptionManager)
	om.UpdateOptions(&types.UpdateOptions{This: lh.options, ChangedValue: opts})
}

// services is the host's service list with TSM-SSH as the simulated host
// has it; the other services are vcsim's.
func (v *VCenter) services(hs *simulator.HostSystem, lh *labHost) []types.HostService {
	st := lh.h.SSH()
	var out []types.HostService
	if hs.Config.Service != nil {
		out = append(out, hs.Config.Service.Service...)
	}
	for i := range out {
		if out[i].Key == sshService {
			out[i].Running, out[i].Policy = st.Running, st.Policy
		}
	}
	return out
}

// dressAbout names the vCenter's product and build from the scenario.
func (v *VCenter) dressAbout(ctx *simulator.Context) {
	si := ctx.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
	a := &si.Content.About
	a.FullName = fmt.Sprintf("VMware vCenter Server %s build-%s", v.spec.Version, v.spec.Build)
	a.Version, a.Build, a.ApiVersion = v.spec.Version, v.spec.Build, apiVersion(v.spec.Version)
}

// apiVersion is the vSphere API version of a product version (8.0.2 ->
// 8.0.2.0).
func apiVersion(version string) string {
	if strings.Count(version, ".") == 2 {
		return version + ".0"
	}
	return version
}

func majorMinor(version string) string {
	p := strings.SplitN(version, ".", 3)
	if len(p) < 2 {
		return version
	}
	return p[0] + "." + p[1]
}
