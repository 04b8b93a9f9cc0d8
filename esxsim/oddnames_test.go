package esxsim

import (
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/esxsink/esxsink/esxi"
)

// The simulator prints odd names as ESXi does (getallvms verbatim, newline
// included; get.config escaped; the .vmx with |XX escapes; esxcli's CSV
// quoted) and esxsink's parsers read every one back exactly.
func TestOddNamesReadBack(t *testing.T) {
	sc, err := LoadScenario("../examples/lab/odd-names.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(sc, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	names := map[int]string{}
	running := map[string]bool{}
	var ids []int
	for _, v := range sc.VMs {
		if !v.Unregistered {
			names[v.ID] = v.Name
			ids = append(ids, v.ID)
			running[v.Name] = v.Power == "on"
		}
	}
	sort.Ints(ids)
	l, err := esxi.ParseGetAllVMs(simExec(t, h, "vim-cmd vmsvc/getallvms"))
	if err != nil {
		t.Fatal(err)
	}
	got := l.IDs()
	sort.Ints(got)
	if !slices.Equal(got, ids) || len(l.Named) != len(ids) {
		t.Errorf("getallvms: ids %v named %v, want %v", got, l.Named, ids)
	}
	for _, id := range ids {
		cf, err := esxi.ParseConfigFiles(simExec(t, h, "vim-cmd vmsvc/get.config "+strconv.Itoa(id)))
		if err != nil || cf.Name != names[id] {
			t.Errorf("get.config %d: name %q, %v; want %q", id, cf.Name, err, names[id])
			continue
		}
		p, err := esxi.ParseDatastorePath(cf.VMPathName)
		if err != nil {
			t.Errorf("get.config %d: %v", id, err)
			continue
		}
		vmx, err := esxi.ParseVMX([]byte(simExec(t, h, "cat "+esxi.Quote(p.HostPath()))))
		if err != nil || vmx.DisplayName != names[id] {
			t.Errorf(".vmx of %d: displayName %q, %v; want %q", id, vmx.DisplayName, err, names[id])
		}
	}
	recs, err := esxi.ParseCSV(simExec(t, h, "esxcli --formatter=csv vm process list"))
	if err != nil {
		t.Fatal(err)
	}
	procs, err := esxi.VMProcesses(recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if !running[p.DisplayName] {
			t.Errorf("process %q (%s) is no running VM", p.DisplayName, p.ConfigFile)
		}
		delete(running, p.DisplayName)
	}
	for n, on := range running {
		if on {
			t.Errorf("running VM %q not in esxcli vm process list", n)
		}
	}
}
