package orchestrator

import (
	"context"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/esxsink/esxsink/esxi"
)

// smallLab is basic.yaml with small disks, so a test copies megabytes.
const smallLab = `
host:
  hostname: esx-small
  version: 8.0.2
  build: "22380479"
  user: root
  password: "Small-Lab-1!"
datastores:
  - name: datastore1
    type: VMFS-6
vms:
  - id: 1
    name: Ubuntu
    guest_os: ubuntu64Guest
    power: "on"
    memory_mb: 16
    logs: 2
    disks:
      - {size: 8MiB, kind: thin}
  - id: 2
    name: Unused server
    guest_os: windows2019srvNext_64Guest
    power: "off"
    memory_mb: 16
    logs: 1
    disks:
      - {size: 4MiB, kind: thick}
`

func collectAll(t *testing.T, e *simEnv, names []string, all, rdm bool) (*Plan, *Outcome, error) {
	t.Helper()
	return collectOpts(t, e, names, all, rdm, nil)
}

// collectOpts is collectAll with options changed by mod.
func collectOpts(t *testing.T, e *simEnv, names []string, all, rdm bool, mod func(*CollectOptions)) (*Plan, *Outcome, error) {
	t.Helper()
	return collectCtx(context.Background(), t, e, names, all, rdm, mod)
}

// collectCtx is collectOpts under ctx.
func collectCtx(ctx context.Context, t *testing.T, e *simEnv, names []string, all, rdm bool, mod func(*CollectOptions)) (*Plan, *Outcome, error) {
	t.Helper()
	inv, err := Discover(ctx, e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	vms, err := SelectVMs(inv, names, all, all)
	if err != nil {
		t.Fatal(err)
	}
	plan := MakePlan(vms, PlanOptions{SinkFree: -1, RDM: rdm})
	o := CollectOptions{
		Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(),
		SinkHost: "127.0.0.1", Retries: 1,
		UnmountBackoff: 50e6, Logger: quietLogger(),
	}
	if mod != nil {
		mod(&o)
	}
	rep, err := Collect(ctx, plan, o)
	return plan, rep, err
}

// assertClean checks that the host is left as found: no mount, no
// snapshot of ours, the original snapshot counts.
func assertClean(t *testing.T, e *simEnv, snapsBefore map[int]int) {
	t.Helper()
	st := e.host.State()
	if len(st.Mounts) != 0 {
		t.Errorf("mounts left on the host: %+v", st.Mounts)
	}
	for _, vm := range st.VMs {
		for _, s := range vm.Snapshots {
			if strings.HasPrefix(s.Name, "esxsink-") {
				t.Errorf("our snapshot %q left on VM %s", s.Name, vm.Name)
			}
		}
		if snapsBefore != nil && len(vm.Snapshots) != snapsBefore[vm.ID] {
			t.Errorf("VM %s has %d snapshots, had %d", vm.Name, len(vm.Snapshots), snapsBefore[vm.ID])
		}
	}
	assertNoTmp(t, e)
}

// assertNoTmp checks that nothing of ours is left in the host's /tmp: no
// lease, stop file or FIFO.
func assertNoTmp(t *testing.T, e *simEnv) {
	t.Helper()
	for _, name := range e.host.State().Tmp {
		if strings.HasPrefix(name, "esxsink-") {
			t.Errorf("/tmp/%s left on the host", name)
		}
	}
}

func snapCounts(e *simEnv) map[int]int {
	m := map[int]int{}
	for _, vm := range e.host.State().VMs {
		m[vm.ID] = len(vm.Snapshots)
	}
	return m
}

func TestCollectSmallLab(t *testing.T) {
	e := startSim(t, smallLab)
	before := snapCounts(e)
	plan, rep, err := collectAll(t, e, nil, true, false)
	if err != nil {
		t.Fatalf("collect: %v\n%+v", err, rep)
	}
	if len(rep.Files) != plan.Files || plan.Files == 0 {
		t.Fatalf("%d results for %d planned files", len(rep.Files), plan.Files)
	}
	for _, f := range rep.Files {
		if !f.Verified || f.HostHashes["md5"] == "" || f.HostHashes["md5"] != f.SinkHashes["md5"] || f.HostHashes["sha256"] != f.AtRest["sha256"] {
			t.Errorf("%s: %+v", f.Item.Dest, f)
		}
	}
	assertClean(t, e, before)
	assertFootprint(t, e)
}

func TestCollectParallel(t *testing.T) {
	e := startSim(t, smallLab)
	before := snapCounts(e)
	const parallel = 3
	var mu sync.Mutex
	inFlight, most := 0, 0
	plan, rep, err := collectOpts(t, e, nil, true, false, func(o *CollectOptions) {
		o.Parallel = parallel
		o.Progress = func(p Progress) {
			mu.Lock()
			defer mu.Unlock()
			if p.Done {
				inFlight--
				return
			}
			inFlight++
			most = max(most, inFlight)
		}
	})
	if err != nil {
		t.Fatalf("collect: %v\n%+v", err, rep)
	}
	if most < 2 || most > parallel {
		t.Errorf("at most %d copies were in flight at once, want 2..%d", most, parallel)
	}
	copies := plan.Copies()
	if len(rep.Files) != len(copies) {
		t.Fatalf("%d results for %d planned copies", len(rep.Files), len(copies))
	}
	for i, f := range rep.Files {
		if f.Item.Dest != copies[i].Dest {
			t.Errorf("result %d is %s, plan order has %s", i, f.Item.Dest, copies[i].Dest)
		}
		if !f.Verified {
			t.Errorf("%s: %s", f.Item.Dest, f.Error)
		}
	}
	// The FIFOs of parallel copies must not collide.
	seen := map[string]bool{}
	for _, c := range e.host.Footprint() {
		if i := strings.Index(c.Line, "/tmp/esxsink-"); i >= 0 && strings.HasPrefix(c.Line, "if [ -p") {
			f := strings.Fields(c.Line[i:])[0]
			if seen[f] {
				t.Errorf("FIFO %s used twice", f)
			}
			seen[f] = true
		}
	}
	assertClean(t, e, before)
	assertFootprint(t, e)
}

// assertFootprint checks that the host ran only commands of the kinds the
// orchestrator plans: read-only discovery, our mount, our snapshot and
// the copies onto our mount.
func assertFootprint(t *testing.T, e *simEnv) {
	t.Helper()
	allowed := []string{"vmware -vl", "esxcli --formatter=csv ", "esxcli storage core device list", "lsusb", "vim-cmd vmsvc/getallvms", "vim-cmd vmsvc/get.config ",
		"vim-cmd vmsvc/power.getstate ", "vim-cmd vmsvc/snapshot.get ", "head -c ", "cd '", "find '", "vmkfstools -q ",
		"esxcfg-nas -a -o '127.0.0.1' -s '/esxsink' 'esxsink-", "esxcfg-nas -l", "esxcfg-nas -d 'esxsink-",
		"vim-cmd vmsvc/snapshot.create ", "vim-cmd vmsvc/snapshot.remove ", "set -o pipefail || exit 125; ", "if [ -p '/tmp/esxsink-", twoPassHash,
		"for c in dd tee md5sum sha256sum mkfifo esxcfg-nas esxcli; do if command -v", "printf '%s\\n' 'esxsink mount check, run ", ": > '/tmp/esxsink-", "if [ -f '/tmp/esxsink-",
		"stat -L -c '", "{ echo 'esxsink lease 1'; ",
		"for r in "} // a rescue's probe: dd of=/dev/null
	for _, c := range e.host.Footprint() {
		if c.Kind == "api" {
			continue // the test's own look at the host (Host.Exec)
		}
		ok := false
		for _, a := range allowed {
			ok = ok || strings.HasPrefix(c.Line, a)
		}
		if !ok {
			t.Errorf("unplanned command on the host: %q", c.Line)
		}
		if strings.Contains(c.Line, "removeall") {
			t.Errorf("removeall run: %q", c.Line)
		}
		// Two-pass and SFTP hash the measured size of a source: a read,
		// not a copy.
		hashPrefix := regexp.MustCompile(`^set -o pipefail \|\| exit 125; head -c [0-9]+ < '[^']*' \| (md5|sha256)sum$`)
		// Two-pass over NFS reads as the copy does, into the hash only.
		hashRead := strings.HasPrefix(c.Line, "set -o pipefail || exit 125; for c in dd md5sum; do ") && strings.HasSuffix(c.Line, "; } | md5sum") &&
			!strings.Contains(c.Line, " of=") && !strings.Contains(c.Line, "tee ")
		if strings.HasPrefix(c.Line, "set -o pipefail") && !hashPrefix.MatchString(c.Line) && !hashRead &&
			!strings.Contains(c.Line, "of='/vmfs/volumes/esxsink-") && !strings.Contains(c.Line, "tee '/vmfs/volumes/esxsink-") {
			t.Errorf("copy not onto our mount: %q", c.Line)
		}
	}
}

// full.yaml: every registered VM, with names holding spaces, brackets,
// quotes and $, snapshot trees, a suspended VM, independent disks and RDMs.
func TestCollectFullLab(t *testing.T) {
	e := startSim(t, "examples/lab/full.yaml")
	before := snapCounts(e)
	locks := e.host.State().Locks
	plan, rep, err := collectAll(t, e, nil, true, true)
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	luns := map[string]bool{}
	for _, f := range rep.Files {
		if !f.Verified {
			t.Errorf("%s: %s", f.Item.Dest, f.Error)
		}
		if f.Item.Kind == KindLUN {
			luns[f.Item.VMName] = f.Item.Live
		}
	}
	// Mail's physical RDM is copied live (with a warning), web01's
	// virtual RDM under the snapshot.
	if live, ok := luns["Mail [legacy]"]; !ok || !live {
		t.Errorf("Mail's physical RDM LUN: collected %v, live %v", ok, live)
	}
	if live, ok := luns["web01"]; !ok || live {
		t.Errorf("web01's virtual RDM LUN: collected %v, live %v", ok, live)
	}
	collected := map[string]int{}
	for _, f := range rep.Files {
		if f.Verified {
			collected[f.Item.VMName]++
		}
	}
	for _, vm := range e.host.State().VMs {
		name := vm.Name
		if !vm.Registered {
			name = strings.TrimSuffix(path.Base(vm.VMX), ".vmx")
		}
		if collected[name] == 0 {
			t.Errorf("VM %q (vmid %d) not collected", vm.Name, vm.ID)
		}
	}
	// The locks left are the running VMs' own, as before.
	if after := e.host.State().Locks; !slices.Equal(after, locks) {
		t.Errorf("locks before %v, after %v", locks, after)
	}
	t.Logf("%d files, %d bytes, %d skipped", plan.Files, plan.Bytes, len(rep.Skipped))
	for _, s := range rep.Skipped {
		t.Logf("skipped %s: %s", s.Source, s.Note)
	}
	assertClean(t, e, before)
	assertFootprint(t, e)
}

// A USB disk plugged into the host is found by discovery and copied whole.
func TestCollectUSBDevice(t *testing.T) {
	e := startSim(t, "examples/lab/full.yaml")
	ctx := context.Background()
	inv, err := Discover(ctx, e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	dev, ok := inv.Device("mpx.vmhba32:C0:T0:L0")
	if !ok || dev.SizeMB != 128 || len(inv.USB) == 0 {
		t.Fatalf("USB disk: %+v %v, lsusb %+v, warnings %q", dev, ok, inv.USB, inv.Warnings)
	}
	plan := MakePlan(nil, PlanOptions{SinkFree: -1, Devices: []esxi.CoreDevice{dev}})
	rep, err := Collect(ctx, plan, CollectOptions{Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(),
		SinkHost: "127.0.0.1", Logger: quietLogger(), UnmountBackoff: 50e6})
	if err != nil || len(rep.Files) != 1 || !rep.Files[0].Verified || rep.Files[0].Size != 128<<20 || rep.Files[0].Dest != "devices/mpx.vmhba32_C0_T0_L0.raw" {
		t.Fatalf("collect: %v %+v", err, rep)
	}
	assertClean(t, e, nil)
	assertFootprint(t, e)
}
