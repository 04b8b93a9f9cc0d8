package esxi

import (
	"errors"
	"testing"
	"time"
)

func TestParseSnapshotTreeNested(t *testing.T) {
	t.Parallel()
	tr, err := ParseSnapshotTree(fixture(t, "snapshot-nested.txt"))
	if err != nil {
		t.Fatal(err)
	}
	all := tr.All()
	if len(tr.Roots) != 1 || len(all) != 3 {
		t.Fatalf("roots %d, snapshots %d; want 1 and 3", len(tr.Roots), len(all))
	}
	root, mid, leaf := all[0], all[1], all[2]
	if root.Name != "before patch" || root.ID != 11 || root.Description != "baseline: clean install" ||
		root.State != "powered off" || root.Depth != 0 || root.CreatedRaw != "3/4/2021 9:05:07" ||
		!root.Created.Equal(time.Date(2021, 3, 4, 9, 5, 7, 0, time.UTC)) {
		t.Errorf("root %+v", root)
	}
	if mid.Name != "esxsink-20240101T000000Z-7f3a" || mid.ID != 12 || mid.Description != "" || mid.Depth != 1 ||
		len(root.Children) != 1 || root.Children[0] != mid {
		t.Errorf("middle %+v", mid)
	}
	if leaf.Name != "after : colon" || leaf.ID != 14 || leaf.Depth != 2 || leaf.State != "suspended" ||
		leaf.Description != "line one\nline two of the description" || leaf.Quiesced == nil || !*leaf.Quiesced {
		t.Errorf("leaf %+v", leaf)
	}
	if root.Quiesced != nil {
		t.Error("root has Quiesced without a Quiesced line")
	}
	if hits := tr.ByName("esxsink-20240101T000000Z-7f3a"); len(hits) != 1 || hits[0].ID != 12 {
		t.Errorf("ByName: %v", hits)
	}
	if tr.ByID(14) != leaf || tr.ByID(99) != nil {
		t.Error("ByID")
	}
}

func TestParseSnapshotTreeSiblings(t *testing.T) {
	t.Parallel()
	tr, err := ParseSnapshotTree(fixture(t, "snapshot-siblings.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Roots) != 2 || len(tr.Roots[0].Children) != 2 || tr.Roots[1].Name != "delta" ||
		tr.Roots[0].Children[1].Name != "gamma" || tr.Roots[1].Description != "second root" {
		t.Errorf("tree shape wrong: %+v", tr.Roots)
	}
}

func TestParseSnapshotTreeCases(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		snaps    int
		errLine  int // -1: error without a line
		kind     error
	}{
		{"no snapshots", "Get Snapshot:\n", 0, 0, nil},
		{"no snapshots, CRLF and blank lines", "\r\nGet Snapshot:\r\n\r\n", 0, 0, nil},
		{"empty", "", 0, -1, nil},
		{"unknown vmid", "Unable to find a VM corresponding to \"99\"\n", 0, 0, ErrVMNotFound},
		{"garbage header", "Snapshot list\n", 0, 1, nil},
		{"child without root", "Get Snapshot:\n--|-CHILD\n", 0, 2, nil},
		{"field before any node", "Get Snapshot:\n--Snapshot Name : x\n", 0, 2, nil},
		{"field at wrong depth", "Get Snapshot:\n|-ROOT\n----Snapshot Id : 1\n", 0, 3, nil},
		{"bad id", "Get Snapshot:\n|-ROOT\n--Snapshot Id : one\n", 0, 3, nil},
		{"no id", "Get Snapshot:\n|-ROOT\n--Snapshot Name : x\n", 0, 2, nil},
		{"stray text", "Get Snapshot:\n|-ROOT\n--Snapshot Id : 1\nhello\n", 0, 4, nil},
		{"odd dashes", "Get Snapshot:\n-|-CHILD\n", 0, 2, nil},
		{"id without space", "Get Snapshot:\n|-ROOT\n--Snapshot Id:3\n", 1, 0, nil},
	} {
		tr, err := ParseSnapshotTree(tc.in)
		switch {
		case tc.kind != nil:
			if !errors.Is(err, tc.kind) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.kind)
			}
		case tc.errLine != 0:
			pe, ok := err.(*ParseError)
			if !ok || tc.errLine > 0 && pe.Line != tc.errLine {
				t.Errorf("%s: %v, want a ParseError on line %d", tc.name, err, tc.errLine)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case len(tr.All()) != tc.snaps:
			t.Errorf("%s: %d snapshots, want %d", tc.name, len(tr.All()), tc.snaps)
		}
	}
}

func TestCheckSnapshotCreate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"Create Snapshot:\n", true},
		{"Create Snapshot:  \n\n", true},
		{"", false},
		{"Create Snapshot:\nSnapshot not taken since the state of the virtual machine has not changed since the last snapshot operation.\n", false},
		{"Usage: snapshot.create vmid [snapshotName] [snapshotDescription] [includeMemory] [quiesced]\n", false},
		{"Create Snapshot:\nCreate Snapshot:\n", false},
	} {
		if err := CheckSnapshotCreate(tc.in); (err == nil) != tc.ok {
			t.Errorf("CheckSnapshotCreate(%q) = %v", tc.in, err)
		}
	}
	if err := CheckSnapshotCreate("Unable to find a VM corresponding to \"5\"\n"); !errors.Is(err, ErrVMNotFound) {
		t.Errorf("unknown vmid: %v", err)
	}
}

func TestParseSnapshotRemove(t *testing.T) {
	t.Parallel()
	tr, err := ParseSnapshotRemove("Remove Snapshot:\n|-ROOT\n--Snapshot Name : a\n--Snapshot Id : 2\n")
	if err != nil || len(tr.Roots) != 1 || tr.Roots[0].ID != 2 {
		t.Errorf("%+v, %v", tr, err)
	}
	if tr, err := ParseSnapshotRemove("Remove Snapshot:\n"); err != nil || len(tr.Roots) != 0 {
		t.Errorf("header only: %+v, %v", tr, err)
	}
	if _, err := ParseSnapshotRemove("Get Snapshot:\n"); err == nil {
		t.Error("a snapshot.get header accepted as snapshot.remove output")
	}
}

func TestParsePowerState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want PowerState
		kind error
	}{
		{"Retrieved runtime info\nPowered on\n", PoweredOn, nil},
		{"Retrieved runtime info\r\nPowered off\r\n", PoweredOff, nil},
		{"Suspended\n", Suspended, nil},
		{"Unable to find a VM corresponding to \"77\"\n", "", ErrVMNotFound},
	} {
		got, err := ParsePowerState(tc.in)
		if got != tc.want || tc.kind != nil && !errors.Is(err, tc.kind) || tc.kind == nil && err != nil {
			t.Errorf("ParsePowerState(%q) = %q, %v", tc.in, got, err)
		}
	}
	for _, in := range []string{"", "Retrieved runtime info\n", "Retrieved runtime info\nPowered on\nPowered off\n", "Retrieved runtime info\nPowering on\n"} {
		if _, err := ParsePowerState(in); err == nil {
			t.Errorf("ParsePowerState(%q) accepted", in)
		}
	}
}
