package orchestrator

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/esxsim"
	"github.com/esxsink/esxsink/hashlog"
)

// rescueLab has a powered-off VM with a 16 MiB disk, a USB disk plugged
// into the host and a LUN that a running VM maps physically.
const rescueLab = `
host:
  hostname: esx-rescue
  version: 8.0.2
  build: "22380479"
  user: root
  password: "Rescue-Lab-1!"
datastores:
  - name: datastore1
    type: VMFS-6
devices:
  - id: naa.600508b1001c7e4d2f9a3b5c6d7e8f91
    kind: lun
    vendor: HP
    model: LOGICAL VOLUME
    size: 8MiB
  - id: mpx.vmhba32:C0:T0:L0
    kind: usb
    vendor: SanDisk
    model: Ultra Fit
    size: 8MiB
    partitions: [7MiB]
usb:
  - {bus: 1, device: 4, id: "0781:5583", name: "SanDisk Corp. Ultra Fit", disk: "mpx.vmhba32:C0:T0:L0"}
vms:
  - id: 2
    name: Archive
    guest_os: debian11_64Guest
    power: "off"
    memory_mb: 16
    disks:
      - {size: 16MiB, zero_permille: 0}
  - id: 3
    name: db02
    guest_os: rhel8_64Guest
    power: "on"
    memory_mb: 16
    disks:
      - {size: 4MiB}
      - {name: db02_lun.vmdk, kind: rdmp, device: naa.600508b1001c7e4d2f9a3b5c6d7e8f91}
`

const (
	rescueFlat = "/vmfs/volumes/datastore1/Archive/Archive-flat.vmdk"
	rescueUSB  = "mpx.vmhba32:C0:T0:L0"
	rescueLUN  = "naa.600508b1001c7e4d2f9a3b5c6d7e8f91"
)

// Item 4 of issue 11: an unreadable sector costs that sector, never the
// file nor a whole block, for every kind of source — a VM disk in
// two-pass mode with its first and last sectors unreadable, a USB disk
// and a running VM's physical RDM LUN with bad sectors in the middle (and
// in the last MiB, which a device reads sector by sector). Each image is
// the host's own dd bs=512 conv=noerror,sync of the source, and the bad
// sectors recorded (the outcome, the custody log) are exactly those.
func TestRescueEverySource(t *testing.T) {
	for _, tc := range []struct {
		name    string
		source  string // in the source's host path
		device  string // the device the source is an alias of, if it is one
		bad     []custody.SectorRange
		twoPass bool
		plan    func(t *testing.T, inv *Inventory) *Plan
	}{
		{name: "two-pass VM disk, first and last sectors", source: rescueFlat, twoPass: true,
			bad: []custody.SectorRange{{First: 0, Count: 1}, {First: 16<<20/512 - 1, Count: 1}},
			plan: func(t *testing.T, inv *Inventory) *Plan {
				vms, err := SelectVMs(inv, []string{"Archive"}, false, false)
				if err != nil {
					t.Fatal(err)
				}
				return only(MakePlan(vms, PlanOptions{SinkFree: -1, Datastores: inv.Datastores}), rescueFlat)
			}},
		{name: "USB disk", source: rescueUSB,
			bad: []custody.SectorRange{{First: 3<<20/512 + 5, Count: 3}, {First: 15000, Count: 1}},
			plan: func(t *testing.T, inv *Inventory) *Plan {
				dev, ok := inv.Device(rescueUSB)
				if !ok {
					t.Fatalf("no USB disk: %+v", inv.Devices)
				}
				return MakePlan(nil, PlanOptions{SinkFree: -1, Devices: []esxi.CoreDevice{dev}})
			}},
		{name: "two-pass USB disk", source: rescueUSB, twoPass: true,
			bad: []custody.SectorRange{{First: 1<<20/512 + 100, Count: 2}},
			plan: func(t *testing.T, inv *Inventory) *Plan {
				dev, _ := inv.Device(rescueUSB)
				return MakePlan(nil, PlanOptions{SinkFree: -1, Devices: []esxi.CoreDevice{dev}})
			}},
		{name: "RDM LUN of a running VM", source: LUNPrefix + "vml.", device: LUNPrefix + rescueLUN, // vmkfstools -q names the vml alias
			bad: []custody.SectorRange{{First: 5<<20/512 + 17, Count: 8}, {First: 7<<20/512 + 1, Count: 1}},
			plan: func(t *testing.T, inv *Inventory) *Plan {
				vms, err := SelectVMs(inv, []string{"db02"}, false, false)
				if err != nil {
					t.Fatal(err)
				}
				p := MakePlan(vms, PlanOptions{SinkFree: -1, RDM: true, Datastores: inv.Datastores})
				for i := range p.Items {
					if p.Items[i].Kind != KindLUN {
						p.Items[i].Method = MethodSkip
					}
				}
				return p
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startSim(t, rescueLab)
			ctx := context.Background()
			inv, err := Discover(ctx, e.runner, e.conn.Addr(), quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			plan := tc.plan(t, inv)
			copies := plan.Copies()
			if len(copies) != 1 {
				t.Fatalf("plan copies %+v, want one file", copies)
			}
			src := copies[0].Source
			if !strings.Contains(src, tc.source) {
				t.Fatalf("plan copies %s, want %s", src, tc.source)
			}
			faulty := src
			if tc.device != "" {
				faulty = tc.device
			}
			for _, r := range tc.bad {
				if err := e.host.AddFault(esxsim.Fault{Kind: esxsim.FaultBadSectors, Path: faulty,
					Offset: esxsim.Size(r.First * 512), Length: esxsim.Size(r.Count * 512)}); err != nil {
					t.Fatal(err)
				}
			}
			want := hostDDSectors(t, e, src)
			rep, err := Collect(ctx, plan, CollectOptions{Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(),
				SinkHost: "127.0.0.1", Logger: quietLogger(), UnmountBackoff: 50e6,
				Retries: 1, TwoPass: tc.twoPass})
			if err != nil {
				t.Fatalf("collect: %v %+v", err, rep)
			}
			f := rep.Files[0]
			if !f.Verified || f.Dest != f.Item.Dest {
				t.Fatalf("%s: verified %v at %s: %s", src, f.Verified, f.Dest, f.Error)
			}
			if tc.twoPass && (f.PreHash == "" || f.PreHash != f.HostHashes["md5"]) {
				t.Errorf("two-pass: first read %q, copy %q", f.PreHash, f.HostHashes["md5"])
			}
			img, err := os.ReadFile(filepath.Join(hashlog.EvidenceDir(e.caseDir), filepath.FromSlash(f.Dest)))
			if err != nil {
				t.Fatal(err)
			}
			if got := md5.Sum(img); hex.EncodeToString(got[:]) != want {
				t.Errorf("image md5 %x (%d bytes), the host's dd bs=512 conv=noerror,sync %s", got, len(img), want)
			}
			if !reflect.DeepEqual(f.BadSectors, tc.bad) {
				t.Errorf("bad sectors %+v, want %+v", f.BadSectors, tc.bad)
			}
			// The map is in the custody log, where verify and the
			// report read it.
			vr, err := hashlog.VerifyCase(ctx, e.caseDir)
			if err != nil {
				t.Fatal(err)
			}
			if v := vr.Verdict(); v != custody.Complete {
				t.Errorf("verify: %s: %+v", v, vr.Assessment.Problems)
			}
			found := false
			for _, a := range vr.Assessment.Files {
				if a.Path == f.Dest && a.Verdict == custody.Verified {
					found = true
					if !reflect.DeepEqual(a.BadSectors, tc.bad) {
						t.Errorf("custody log's bad sectors %+v, want %+v", a.BadSectors, tc.bad)
					}
				}
			}
			if !found {
				t.Errorf("no verified %s in the custody log: %+v", f.Dest, vr.Assessment.Files)
			}
			if e.host.FaultsFired()[esxsim.FaultBadSectors] == 0 {
				t.Error("the bad sectors were never read")
			}
			assertClean(t, e, nil)
			assertFootprint(t, e)
		})
	}
}

// only keeps src of p's copies.
func only(p *Plan, src string) *Plan {
	for i := range p.Items {
		if p.Items[i].Source != src {
			p.Items[i].Method = MethodSkip
		}
	}
	return p
}

// hostDDSectors is the md5 of the host's dd bs=512 conv=noerror,sync of
// src: what an examiner's sector-by-sector read gets, bad sectors zeroed.
func hostDDSectors(t *testing.T, e *simEnv, src string) string {
	t.Helper()
	out, errOut, code := e.host.Exec(context.Background(), "dd if="+esxi.Quote(src)+" bs=512 conv=noerror,sync | md5sum")
	if code != 0 || !strings.Contains(errOut, "Input/output error") {
		t.Fatalf("host dd: exit %d: %s", code, errOut)
	}
	h, err := esxi.ParseHash(out, esxi.MD5)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Item 5 of issue 11: vmkfstools -q fails for a running VM's physical
// RDM. Its descriptor says what it is, so discovery still knows it as a
// physical RDM; nothing reads the LUN (neither the mapping file copied
// as data nor a LUN under a snapshot), the plan and the custody log say
// the LUN was not collected and why, and the case asked for it (--rdm)
// is incomplete.
func TestCollectRDMQueryFails(t *testing.T) {
	e := startSim(t, rescueLab)
	const desc = "/vmfs/volumes/datastore1/db02/db02_lun.vmdk"
	if err := e.host.AddFault(esxsim.Fault{Kind: esxsim.FaultRDMQueryFail, Path: desc}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	inv, err := Discover(ctx, e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	vms, err := SelectVMs(inv, []string{"db02"}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	var rdm *Disk
	for i, d := range vms[0].Disks {
		if d.Descriptor == desc {
			rdm = &vms[0].Disks[i]
		}
	}
	if rdm == nil || rdm.RDM == nil || !rdm.RDM.Passthrough || rdm.RDM.Device != "" || !strings.Contains(rdm.RDMUnresolved, "Failed to open disk") {
		t.Fatalf("the RDM disk: %+v", rdm)
	}
	o := PlanOptions{SinkFree: -1, RDM: true, Datastores: inv.Datastores}
	plan := MakePlan(vms, o)
	plan.NoteNotCollected(inv, o)
	for _, it := range plan.Copies() {
		if it.Kind == KindLUN || it.Kind == KindRDM || strings.Contains(it.Source, "-rdmp") || (it.Source == desc && it.Method == MethodSnapshot) {
			t.Errorf("planned: %+v", it)
		}
	}
	rep, err := Collect(ctx, plan, CollectOptions{Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(),
		SinkHost: "127.0.0.1", Logger: quietLogger(), UnmountBackoff: 50e6, Retries: 1})
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	for _, f := range rep.Files {
		if !f.Verified && !f.CopiedLive {
			t.Errorf("%s: %s", f.Item.Source, f.Error)
		}
	}
	for _, c := range e.host.Footprint() {
		if strings.Contains(c.Line, "-rdmp.vmdk") || strings.Contains(c.Line, "/vmfs/devices/disks/") {
			t.Errorf("the LUN was read: %q", c.Line)
		}
	}
	if n := custodyCount(t, e, custody.TypeNotCollected, "is unknown"); n != 1 {
		t.Errorf("%d not_collected records say the RDM's device is unknown", n)
	}
	if n := custodyCount(t, e, custody.TypeFileSkipped, "NOT COLLECTED: raw device mapping whose device is unknown"); n != 1 {
		t.Errorf("%d skipped records for the mapping file", n)
	}
	vr, err := hashlog.VerifyCase(ctx, e.caseDir)
	if err != nil {
		t.Fatal(err)
	}
	if v := vr.Verdict(); v != custody.Incomplete {
		t.Errorf("verify: %s, want incomplete (--rdm asked for the LUN): %+v", v, vr.Assessment.Problems)
	}
	assertClean(t, e, nil)
	assertFootprint(t, e)
}
