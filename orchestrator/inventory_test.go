package orchestrator

import (
	"context"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/esxi"
)

// readOnly are the command prefixes discovery may run.
var readOnly = []string{"vmware -vl", "esxcli --formatter=csv system ", "esxcli --formatter=csv storage filesystem list",
	"esxcli --formatter=csv vm process list",
	"vim-cmd vmsvc/getallvms", "vim-cmd vmsvc/get.config ", "vim-cmd vmsvc/power.getstate ", "vim-cmd vmsvc/snapshot.get ",
	"head -c ", "cd '", "find '", "vmkfstools -q ", "esxcfg-nas -l", "lsusb", "esxcli storage core device list"}

// twoPassHash is the first read of --verify two-pass.
const twoPassHash = "md5sum < '"

func assertReadOnly(t *testing.T, e *simEnv) {
	t.Helper()
	for _, c := range e.host.Footprint() {
		ok := false
		for _, p := range readOnly {
			ok = ok || strings.HasPrefix(c.Line, p)
		}
		if !ok {
			t.Errorf("discovery ran a command that is not read-only: %q", c.Line)
		}
	}
}

func findVM(inv *Inventory, name string) *VM {
	for _, v := range inv.VMs {
		if v.Name == name {
			return v
		}
	}
	return nil
}

func TestDiscoverFull(t *testing.T) {
	t.Parallel()
	e := startSim(t, "examples/lab/full.yaml")
	inv, err := Discover(context.Background(), e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if inv.Host.Hostname != "esx-lab02.corp.example" || inv.Host.Version.Version != "7.0.3" || inv.Host.Version.Build != 21930508 {
		t.Errorf("host: %+v", inv.Host)
	}
	mail := findVM(inv, "Mail [legacy]")
	if mail == nil || mail.ID != 11 || !mail.Running() || !mail.Registered {
		t.Fatalf("Mail [legacy]: %+v", mail)
	}
	if mail.Snapshots == nil || len(mail.Snapshots.All()) != 4 {
		t.Errorf("Mail snapshot tree: %+v", mail.Snapshots)
	}
	var indep, prdm bool
	for _, d := range mail.Disks {
		indep = indep || d.Independent
		prdm = prdm || (d.RDM != nil && d.RDM.Passthrough && d.RDM.Device != "")
	}
	if len(mail.Disks) != 5 || !indep || !prdm {
		t.Errorf("Mail disks: %+v", mail.Disks)
	}
	if mail.Disks[0].Parent == "" || mail.Disks[0].CreateType != "seSparse" {
		t.Errorf("Mail's first disk is a seSparse delta with a parent: %+v", mail.Disks[0])
	}
	// The chain is followed to the base, into another folder: the
	// branch "rollback test" runs on 000005 over 000004 over the base.
	logs := mail.Disks[4]
	const logsDir = "/vmfs/volumes/datastore1/Mail [legacy] logs/"
	if b := logs.Base(); len(logs.Chain) != 2 || b.Descriptor != logsDir+"Mail [legacy]_logs.vmdk" || len(b.Extents) != 1 || b.Extents[0] != logsDir+"Mail [legacy]_logs-flat.vmdk" {
		t.Errorf("Mail's disk in another folder: chain %+v", logs.Chain)
	}
	outside := map[string]bool{}
	for _, f := range mail.Files {
		outside[f.Path] = f.Outside
	}
	for _, p := range []string{logsDir + "Mail [legacy]_logs.vmdk", logsDir + "Mail [legacy]_logs-flat.vmdk"} {
		if !outside[p] {
			t.Errorf("%s is not among Mail's files (outside its folder)", p)
		}
	}
	// A disk on another datastore, named by the volume's UUID in the
	// delta, is found by the datastore's name.
	tom := findVM(inv, `Tom's "lab" $HOME`)
	if tom == nil || len(tom.Disks) != 2 || tom.Disks[1].Base().Descriptor != "/vmfs/volumes/datastore1/shared/db-test.vmdk" {
		t.Fatalf("Tom's disk on datastore1: %+v", tom)
	}
	web := findVM(inv, "web01")
	if web == nil || !strings.HasPrefix(web.VMX, "/vmfs/volumes/Old SAN [LUN 5]/") {
		t.Errorf("web01 on a datastore with brackets: %+v", web)
	}
	if db := findVM(inv, "db-test"); db == nil || db.Power != esxi.Suspended {
		t.Errorf("db-test suspended: %+v", db)
	}
	orphan := findVM(inv, "Orphan-2019")
	if orphan == nil || orphan.Registered || len(orphan.Disks) != 1 || len(orphan.Files) == 0 {
		t.Errorf("unregistered Orphan-2019: %+v", orphan)
	}
	for _, v := range inv.VMs {
		if !v.Registered && v.Name != "Orphan-2019" {
			t.Errorf("registered VM %s reported as unregistered too", v.VMX)
		}
	}
	assertReadOnly(t, e)
}

// The plan of basic.yaml (dry run): every file with kind, method and
// destination, totals, and nothing changed on the host.
func TestPlanBasicDryRun(t *testing.T) {
	t.Parallel()
	e := startSim(t, "examples/lab/basic.yaml")
	inv, err := Discover(context.Background(), e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	vms, err := SelectVMs(inv, []string{"Ubuntu", "2"}, false, false)
	if err != nil || len(vms) != 2 {
		t.Fatalf("select: %v %d", err, len(vms))
	}
	plan := MakePlan(vms, PlanOptions{SinkFree: 1 << 30})
	if plan.Fits() {
		t.Error("9 GiB of disks fit in 1 GiB")
	}
	byDest := map[string]PlanItem{}
	var sum int64
	for _, it := range plan.Items {
		if it.Method != MethodSkip {
			byDest[it.Dest] = it
			sum += it.Size
		}
	}
	if sum != plan.Bytes || len(byDest) != plan.Files {
		t.Errorf("totals %d/%d, items %d/%d", plan.Bytes, plan.Files, sum, len(byDest))
	}
	if it := byDest["datastore1/Ubuntu/Ubuntu-flat.vmdk"]; it.Method != MethodSnapshot || it.Kind != KindExtent || it.Size != 8<<30 {
		t.Errorf("running VM's extent: %+v", it)
	}
	if it := byDest["datastore1/Unused server/Unused server-flat.vmdk"]; it.Method != MethodCopy || it.Size != 1<<30 {
		t.Errorf("powered-off VM's extent: %+v", it)
	}
	if it, ok := byDest["datastore1/Ubuntu/Ubuntu.vmx"]; !ok || it.Method != MethodCopy || !it.Live {
		t.Errorf("running VM's .vmx: %+v", it)
	}
	for _, it := range plan.Items {
		if it.Kind == KindSwap && it.Method != MethodSkip {
			t.Errorf("swap of a running VM planned: %+v", it)
		}
	}
	if _, err := SelectVMs(inv, []string{"nope"}, false, false); err == nil {
		t.Error("an unknown VM was accepted")
	}
	assertReadOnly(t, e)
	if st := e.host.State(); len(st.Mounts) != 0 {
		t.Errorf("mounts: %+v", st.Mounts)
	}
}

func TestSafeName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Tom's lab $HOME": "Tom's lab $HOME", "a/b": "a_b", `a\b`: "a_b", "..": "_.._", "": "_",
		"mpx.vmhba32:C0:T0:L0.raw": "mpx.vmhba32_C0_T0_L0.raw", `Web "front" a?b*<c>|`: "Web _front_ a_b__c__",
		"CON": "_CON", "nul.txt": "_nul.txt", "com1.vmdk": "_com1.vmdk", "console.log": "console.log",
		"name.": "name._", "name ": "name _",
		"x\ny": "x_y", "bad\xffutf8": "bad_utf8", "Mail [legacy]": "Mail [legacy]",
		strings.Repeat("é", 200): strings.Repeat("é", 127),
	} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
}
