package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/orchestrator"
)

// TestInventoryColumnsAndSnapshotTimes: a datastore name longer than any
// fixed width, one in another script, and a VM whose name has blanks
// keep every row's columns under each other; a snapshot's time says its
// zone.
func TestInventoryColumnsAndSnapshotTimes(t *testing.T) {
	t.Parallel()
	yes := true
	inv := &orchestrator.Inventory{
		Host: orchestrator.HostInfo{Addr: "10.0.0.21:22", Hostname: "esx01"},
		Datastores: []esxi.Filesystem{
			{VolumeName: "ds1", Type: "VMFS-6", Size: 100 << 30, Free: 40 << 30},
			{VolumeName: "Production SAN [LUN 5] tier-1 replicated", Type: "VMFS-6", Size: 2 << 40, Free: 512 << 20},
			{VolumeName: "증거 저장소", Type: "NFS41", Size: 1 << 30, Free: 1 << 30},
		},
		Devices: []esxi.CoreDevice{
			{Device: "naa.600508b1001c7e4d2f9a3b5c6d7e8f01", SizeMB: 16, Vendor: "HP", Model: "LOGICAL VOLUME"},
			{Device: "mpx.vmhba32:C0:T0:L0", SizeMB: 1 << 20, Vendor: "SanDisk", Model: "Cruzer Blade", IsUSB: &yes, IsLocal: true},
		},
		VMs: []*orchestrator.VM{{
			ID: 7, Name: "Web front server (prod)", Registered: true, Power: esxi.PoweredOn,
			VMX: "/vmfs/volumes/ds1/Web front server (prod)/Web front server (prod).vmx",
			Snapshots: &esxi.SnapshotTree{Roots: []*esxi.SnapshotNode{
				{ID: 1, Name: "before update", CreatedRaw: "2/23/2015 18:12:50", Created: time.Date(2015, 2, 23, 18, 12, 50, 0, time.UTC),
					Children: []*esxi.SnapshotNode{{ID: 2, Name: "odd", CreatedRaw: "23.02.2015 18:12", Depth: 1}}},
			}},
			Files: []orchestrator.File{{Name: "Web front server (prod).vmx", Size: 3 << 10}, {Name: "Web front server (prod)-flat.vmdk", Size: 40 << 30}},
		}},
	}
	var b bytes.Buffer
	printInventory(&b, inv)
	out := b.String()
	section := func(head, next string) []string {
		s := out[strings.Index(out, head)+len(head):]
		s = s[:strings.Index(s, next)]
		return strings.Split(strings.Trim(s, "\n"), "\n")
	}
	// The column after each name starts at the same place on every row,
	// counted in the cells a terminal shows them in.
	sameStart := func(what string, lines []string, cell func(string) string) {
		t.Helper()
		at := -1
		for _, l := range lines {
			i := strings.Index(l, cell(l))
			if i < 0 {
				t.Fatalf("%s: %q lacks %q", what, l, cell(l))
			}
			col := runewidth.StringWidth(l[:i])
			if at >= 0 && col != at {
				t.Errorf("%s: misaligned at column %d, not %d:\n%s", what, col, at, strings.Join(lines, "\n"))
			}
			at = col
		}
	}
	ds := section("datastores:\n", "storage devices:")
	if len(ds) != 3 {
		t.Fatalf("datastore rows: %q", ds)
	}
	sameStart("datastore type", ds, func(l string) string {
		if strings.Contains(l, "NFS41") {
			return "NFS41"
		}
		return "VMFS-6"
	})
	sameStart("datastore size", ds, func(string) string { return "free of" })
	if !strings.Contains(out, `"Production SAN [LUN 5] tier-1 replicated"`) || !strings.Contains(out, `"증거 저장소"`) {
		t.Errorf("datastore names not shown whole:\n%s", out)
	}
	devs := section("storage devices:\n", "VMs:")
	sameStart("device name", devs, func(l string) string {
		if strings.Contains(l, "naa.") {
			return "naa."
		}
		return "mpx."
	})
	sameStart("device vendor", devs, func(l string) string {
		if strings.Contains(l, "HP") {
			return "HP LOGICAL"
		}
		return "SanDisk"
	})
	if !strings.Contains(out, `"Web front server (prod)"  (vmid 7, Powered on)`) {
		t.Errorf("the VM with blanks in its name:\n%s", out)
	}
	var files []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasSuffix(l, ".vmx") && strings.Contains(l, "KiB") || strings.HasSuffix(l, "-flat.vmdk") {
			files = append(files, l)
		}
	}
	if len(files) != 2 {
		t.Fatalf("file rows %q", files)
	}
	sameStart("file name", files, func(string) string { return "Web front" })
	// ESXi's clock is UTC; the zone is written out. A time in a form not
	// understood is shown as printed and says so.
	if !strings.Contains(out, `snapshot 1 "before update" 2015-02-23T18:12:50Z`) {
		t.Errorf("snapshot time without its zone:\n%s", out)
	}
	if !strings.Contains(out, `snapshot 2 "odd" 23.02.2015 18:12 (host time as printed, zone not stated)`) {
		t.Errorf("an unparsed snapshot time is not marked:\n%s", out)
	}
}
