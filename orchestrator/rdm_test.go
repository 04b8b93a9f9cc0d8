package orchestrator

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxsim"
	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/vmdk"
)

// rdmSnapLab has a running VM with a virtual and a physical RDM and a
// snapshot its owner took: the .vmx names a delta over the virtual RDM's
// mapping descriptor (ESXi leaves the physical one out of snapshots).
const rdmSnapLab = `
host: {hostname: esx-rdmsnap, version: 8.0.2, build: "22380479", user: root, password: "Rdm-Snap-1!"}
datastores:
  - {name: datastore1, type: VMFS-6}
devices:
  - {id: naa.600a0980383030303030303030303031, kind: lun, size: 16MiB}
  - {id: naa.600a0980383030303030303030303032, kind: lun, size: 8MiB}
vms:
  - id: 3
    name: erp
    power: "on"
    memory_mb: 16
    disks:
      - {size: 4MiB}
      - {name: erp_data.vmdk, kind: rdm, device: naa.600a0980383030303030303030303031}
      - {name: erp_raw.vmdk, kind: rdmp, device: naa.600a0980383030303030303030303032}
    snapshots:
      - {name: before upgrade}
`

const rdmSnapDir = "/vmfs/volumes/datastore1/erp/"

// Item 2 of issue 11's follow-up: an RDM under a user snapshot. Discovery
// follows the delta the .vmx names to the mapping's descriptor and knows
// the disk as a virtual RDM; the mapping file is never read as data, the
// deltas over it are copied under our snapshot as ordinary deltas, --rdm
// images the LUN (frozen by the delta, so under snapshot too), and the
// collected chain over that image reads as the host's disk at our
// snapshot. The physical RDM beside it is copied live.
func TestCollectRDMUnderUserSnapshot(t *testing.T) {
	e := startSim(t, rdmSnapLab)
	ctx := context.Background()
	inv, err := Discover(ctx, e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	vms, err := SelectVMs(inv, []string{"erp"}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	data := vms[0].Disks[1]
	if data.Descriptor != rdmSnapDir+"erp_data-000001.vmdk" || data.RDM == nil || data.RDM.Passthrough || !strings.HasPrefix(data.RDM.Device, "vml.") ||
		len(data.MappingFiles()) != 1 || data.MappingFiles()[0] != rdmSnapDir+"erp_data-rdm.vmdk" {
		t.Fatalf("the virtual RDM under the snapshot: %+v (rdm %+v)", data, data.RDM)
	}
	o := PlanOptions{SinkFree: -1, RDM: true, Datastores: inv.Datastores}
	plan := MakePlan(vms, o)
	plan.NoteNotCollected(inv, o)
	planned := map[string]PlanItem{}
	for _, it := range plan.Items {
		planned[it.Source] = it
	}
	for src, method := range map[string]string{
		rdmSnapDir + "erp_data-rdm.vmdk":             MethodSkip,
		rdmSnapDir + "erp_raw-rdmp.vmdk":             MethodSkip,
		rdmSnapDir + "erp_data.vmdk":                 MethodSnapshot,
		rdmSnapDir + "erp_data-000001.vmdk":          MethodSnapshot,
		rdmSnapDir + "erp_data-000001-sesparse.vmdk": MethodSnapshot,
		LUNPrefix + data.RDM.Device:                  MethodSnapshot,
	} {
		if it := planned[src]; it.Method != method || it.Live {
			t.Errorf("%s: %s live=%v (%s), want %s", src, it.Method, it.Live, it.Note, method)
		}
	}
	rep, err := Collect(ctx, plan, CollectOptions{Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(),
		SinkHost: "127.0.0.1", Logger: quietLogger(), UnmountBackoff: 50e6, Retries: 1})
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	dest := map[string]string{}
	for _, f := range rep.Files {
		if !f.Verified && !f.CopiedLive {
			t.Errorf("%s: %s", f.Item.Source, f.Error)
		}
		dest[f.Item.Source] = f.Dest
	}
	for _, f := range rep.Files {
		if f.Item.Kind == KindLUN && f.Item.Source != LUNPrefix+data.RDM.Device && !f.Item.Live {
			t.Errorf("the physical RDM's LUN was not copied live: %+v", f.Item)
		}
	}
	for _, c := range e.host.Footprint() {
		if strings.Contains(c.Line, "-rdm.vmdk") || strings.Contains(c.Line, "-rdmp.vmdk") {
			t.Errorf("a mapping file was read: %q", c.Line)
		}
	}
	// The collected chain, its RDM extent read from the LUN's image, is
	// the disk as our snapshot froze it.
	ev := hashlog.EvidenceDir(e.caseDir)
	lun := dest[LUNPrefix+data.RDM.Device]
	top := dest[data.Descriptor]
	if lun == "" || top == "" {
		t.Fatalf("not collected: the LUN (%q) or the delta (%q)", lun, top)
	}
	d, err := vmdk.Open(filepath.Join(ev, filepath.FromSlash(top)), &vmdk.Options{Root: ev,
		ResolveDevice: func(vmdk.DeviceRef) (string, error) { return filepath.Join(ev, filepath.FromSlash(lun)), nil }})
	if err != nil {
		t.Fatalf("open the collected chain: %v", err)
	}
	defer d.Close()
	got := md5.New()
	if _, err := io.Copy(got, io.NewSectionReader(d, 0, d.Size())); err != nil {
		t.Fatal(err)
	}
	if want := imageMD5(t, e.host, data.Descriptor); hex.EncodeToString(got.Sum(nil)) != want {
		t.Errorf("the collected RDM chain reads md5 %x, the host's disk at our snapshot %s", got.Sum(nil), want)
	}
	vr, err := hashlog.VerifyCase(ctx, e.caseDir)
	if err != nil {
		t.Fatal(err)
	}
	if v := vr.Verdict(); v != custody.Complete {
		t.Errorf("verify: %s: %+v", v, vr.Assessment.Problems)
	}
	assertClean(t, e, map[int]int{3: 1})
	assertFootprint(t, e)
}

// When vmkfstools -q cannot name the device behind the mapping under a
// user snapshot, the base's createType still says what the disk is: the
// mapping file is not copied as data, no LUN is planned, and the case
// asked for it (--rdm) is incomplete and says why.
func TestCollectRDMUnderUserSnapshotQueryFails(t *testing.T) {
	e := startSim(t, rdmSnapLab)
	if err := e.host.AddFault(esxsim.Fault{Kind: esxsim.FaultRDMQueryFail, Path: rdmSnapDir + "erp_data.vmdk"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	inv, err := Discover(ctx, e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	vms, err := SelectVMs(inv, []string{"erp"}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if d := vms[0].Disks[1]; d.RDM == nil || d.RDM.Passthrough || d.RDM.Device != "" || !strings.Contains(d.RDMUnresolved, "Failed to open disk") {
		t.Fatalf("the virtual RDM: %+v", d)
	}
	o := PlanOptions{SinkFree: -1, RDM: true, Datastores: inv.Datastores}
	plan := MakePlan(vms, o)
	plan.NoteNotCollected(inv, o)
	for _, it := range plan.Items {
		if path.Base(it.Source) == "erp_data-rdm.vmdk" && (it.Method != MethodSkip || !strings.Contains(it.Note, "NOT COLLECTED")) {
			t.Errorf("mapping file: %+v", it)
		}
		if it.Kind == KindLUN && strings.Contains(it.Note, "erp_data") {
			t.Errorf("a LUN planned for the unknown device: %+v", it)
		}
	}
	if _, err := Collect(ctx, plan, CollectOptions{Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(),
		SinkHost: "127.0.0.1", Logger: quietLogger(), UnmountBackoff: 50e6, Retries: 1}); err != nil {
		t.Fatalf("collect: %v", err)
	}
	if n := custodyCount(t, e, custody.TypeNotCollected, "erp_data-000001.vmdk"); n != 1 {
		t.Errorf("%d not_collected records name the RDM under the snapshot", n)
	}
	vr, err := hashlog.VerifyCase(ctx, e.caseDir)
	if err != nil {
		t.Fatal(err)
	}
	if v := vr.Verdict(); v != custody.Incomplete {
		t.Errorf("verify: %s, want incomplete (--rdm asked for the LUN)", v)
	}
	assertClean(t, e, map[int]int{3: 1})
}

// imageMD5 is the md5 of the host's disk at descriptor desc as the last
// snapshot that froze it left it.
func imageMD5(t *testing.T, h *esxsim.Host, desc string) string {
	t.Helper()
	r, n, err := h.DiskImage(desc)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.New()
	if _, err := io.Copy(sum, io.NewSectionReader(r, 0, n)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(sum.Sum(nil))
}
