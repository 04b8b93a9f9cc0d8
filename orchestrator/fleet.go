package orchestrator

import (
	"fmt"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxi"
)

// HostPlan is one host's plan in a fleet run: several hosts collected
// into one case.
type HostPlan struct {
	// Host names the host (its name in the vSphere inventory).
	Host string
	Plan *Plan
}

// FileKey identifies the file a plan item copies across hosts: the
// datastore's UUID and the path inside it, the same on every host that
// mounts the datastore, whatever name or mount path each uses. ok is
// false for a file on no known datastore (a device), which only its own
// host can copy.
func FileKey(it PlanItem, stores []custody.Datastore) (key string, ok bool) {
	ds, rel, isVol := esxi.SplitVolumePath(it.Source)
	if !isVol {
		return "", false
	}
	for _, s := range stores {
		if s.UUID != "" && contains(s.Paths, esxi.VolumePath(ds, "")) {
			return s.UUID + "/" + rel, true
		}
	}
	return "", false
}

// DedupeFleet makes the plans of a fleet copy each file once, in the
// plans' order: a file on a datastore several hosts mount (same
// datastore UUID, same path) is copied by the first host that plans it;
// the others skip it with a note naming that host and where its copy
// goes. Two different files that would take the same evidence path
// cannot both be kept (same-named datastores do not meet there: the
// plans take their folders from CaseFolders; this is the guard should
// anything else): the later one is not collected, and is listed in its
// plan's NotCollected as missed, with why. A VM one host sees unregistered on a shared
// datastore while another host collects it is not listed as not
// collected. It returns how many items it took out.
func DedupeFleet(plans []HostPlan) int {
	defer dropCollectedElsewhere(plans)
	type owner struct {
		host, key string
		keyed     bool
	}
	byKey := map[string]string{} // file key -> host that copies it
	byDest := map[string]owner{} // evidence path -> who writes it
	removed := 0
	for _, hp := range plans {
		p := hp.Plan
		for i := range p.Items {
			it := &p.Items[i]
			if it.Method == MethodSkip || it.Dest == "" {
				continue
			}
			key, keyed := FileKey(*it, p.Datastores)
			if keyed {
				if first, ok := byKey[key]; ok {
					it.Method = MethodSkip
					it.Note = fmt.Sprintf("on a datastore shared with %s: copied once, by %s, as %s", first, first, it.Dest)
					p.Bytes -= it.Size
					p.Files--
					removed++
					continue
				}
			}
			if o, ok := byDest[it.Dest]; ok && (!keyed || !o.keyed || o.key != key) {
				why := fmt.Sprintf("%s on %s and a different file on %s would both be %s in the evidence folder; %s's is kept", it.Source, hp.Host, o.host, it.Dest, o.host)
				p.NotCollected = append(p.NotCollected, custody.Uncollected{Host: hp.Host, What: "file", Name: it.VMName, VMID: it.VMID,
					Path: it.Source, Size: it.Size, Why: why, Missed: true})
				it.Method, it.Note = MethodSkip, "not collected: "+why
				p.Bytes -= it.Size
				p.Files--
				removed++
				continue
			}
			if keyed {
				byKey[key] = hp.Host
			}
			byDest[it.Dest] = owner{host: hp.Host, key: key, keyed: keyed}
		}
	}
	return removed
}

// dropCollectedElsewhere takes out of each plan's NotCollected the
// unregistered VMs whose .vmx another plan copies.
func dropCollectedElsewhere(plans []HostPlan) {
	copied := map[string]bool{}
	for _, hp := range plans {
		for _, it := range hp.Plan.Copies() {
			if key, ok := FileKey(it, hp.Plan.Datastores); ok {
				copied[key] = true
			}
		}
	}
	for _, hp := range plans {
		p := hp.Plan
		kept := p.NotCollected[:0]
		for _, u := range p.NotCollected {
			key, ok := FileKey(PlanItem{Source: u.Path}, p.Datastores)
			if u.What == "unregistered VM" && !u.Missed && ok && copied[key] {
				continue
			}
			kept = append(kept, u)
		}
		p.NotCollected = kept
	}
}

// VMByVMX finds the VM whose .vmx is rel on the datastore named
// datastore (by its label, as the vSphere API names it), or nil.
func (inv *Inventory) VMByVMX(datastore, rel string) *VM {
	want := esxi.CanonicalHostPath(esxi.VolumePath(datastore, rel), inv.Datastores)
	for _, v := range inv.VMs {
		if esxi.CanonicalHostPath(v.VMX, inv.Datastores) == want {
			return v
		}
	}
	return nil
}
