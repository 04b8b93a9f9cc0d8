package esxi

import (
	"slices"
	"strings"
	"testing"
)

func TestParseGetAllVMsAnnotated(t *testing.T) {
	l, err := ParseGetAllVMs(fixture(t, "getallvms-annotated.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !l.HasAnnotation {
		t.Error("HasAnnotation false")
	}
	if got := l.IDs(); !slices.Equal(got, []int{4, 17, 23, 40}) {
		t.Fatalf("IDs %v", got)
	}
	if !slices.Equal(l.Invalid, []int{31}) {
		t.Errorf("Invalid %v, want [31]", l.Invalid)
	}
	if len(l.Unparsed) != 0 {
		t.Errorf("Unparsed %v", l.Unparsed)
	}
	want := []RegisteredVM{
		{ID: 4, Name: "mail-gw", File: "[ssd-store] mail-gw/mail-gw.vmx", Datastore: "ssd-store", Path: "mail-gw/mail-gw.vmx",
			GuestOS: "debian10_64Guest", Version: "vmx-14", Annotation: "edge relay", Line: 2},
		{ID: 17, Name: "Finance [Q3] Ledger", File: "[ssd-store] Finance [Q3] Ledger/Finance [Q3] Ledger.vmx", Datastore: "ssd-store",
			Path: "Finance [Q3] Ledger/Finance [Q3] Ledger.vmx", GuestOS: "windows9Server64Guest", Version: "vmx-19",
			Annotation: "owner: J. Park\nreplaced disk 2024-03-02\n\n2031 tickets migrated from old host", Line: 3, Ambiguous: true},
		{ID: 23, Name: `it's "quoted" $(x)`, File: "[lab:store 2] odd/odd.vmx", Datastore: "lab:store 2", Path: "odd/odd.vmx",
			GuestOS: "otherGuest64", Version: "vmx-13", Line: 7},
		{ID: 40, Name: "dc01", File: "[ssd-store] dc01/dc01.vmx", Datastore: "ssd-store", Path: "dc01/dc01.vmx",
			GuestOS: "windows2019srv_64Guest", Version: "vmx-17", Line: 9},
	}
	for i, w := range want {
		if l.VMs[i] != w {
			t.Errorf("VM %d\n got %+v\nwant %+v", i, l.VMs[i], w)
		}
	}
}

func TestParseGetAllVMsPlain(t *testing.T) {
	l, err := ParseGetAllVMs(fixture(t, "getallvms-plain.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if l.HasAnnotation || len(l.VMs) != 2 {
		t.Fatalf("%+v", l)
	}
	// Same name twice is fine; the vmid tells them apart.
	if l.VMs[0].Name != "web 01" || l.VMs[1].Name != "web 01" || l.VMs[1].Path != "web 01 clone/web 01 clone.vmx" {
		t.Errorf("%+v", l.VMs)
	}
}

func TestParseGetAllVMsCases(t *testing.T) {
	const hdr = "Vmid   Name   File   Guest OS   Version   Annotation\n"
	for _, tc := range []struct {
		name, in string
		ids      []int
		names    []string
		errLine  int // 0: no error expected; -1: an error not tied to a line
	}{
		{"header only", hdr, nil, nil, 0},
		{"no header", "1   a   [ds] a/a.vmx   g   vmx-1\n", nil, nil, -1},
		{"empty", "", nil, nil, -1},
		{"CRLF", strings.ReplaceAll(hdr+"5   a   [ds] a/a.vmx   g   vmx-8\n", "\n", "\r\n"), []int{5}, []string{"a"}, 0},
		{"name is a bracket pair", hdr + "6   [x] y   [ds] y/y.vmx   g   vmx-8\n", []int{6}, []string{"[x] y"}, 0},
		{"folder named like the VM breaks a tie", hdr + "7 A [B] C [ds] A [B] C/A [B] C.vmx g vmx-8\n", []int{7}, []string{"A [B] C"}, 0},
		{"no datastore", hdr + "8   vm   vm.vmx   g   vmx-8\n", []int{8}, []string{"vm"}, 0},
		{"duplicate vmid", hdr + "9 a [d] a/a.vmx g vmx-1\n9 b [d] b/b.vmx g vmx-1\n", nil, nil, 3},
		{"warning before header", "Warning: x\n" + hdr + "3 a [d] a/a.vmx g vmx-1\n", []int{3}, []string{"a"}, 0},
	} {
		l, err := ParseGetAllVMs(tc.in)
		switch {
		case tc.errLine != 0:
			pe, ok := err.(*ParseError)
			if !ok || tc.errLine > 0 && pe.Line != tc.errLine {
				t.Errorf("%s: err %v, want a ParseError on line %d", tc.name, err, tc.errLine)
			}
			continue
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var names []string
		for _, vm := range l.VMs {
			names = append(names, vm.Name)
		}
		if !slices.Equal(l.IDs(), tc.ids) && len(tc.ids)+len(l.IDs()) > 0 || !slices.Equal(names, tc.names) {
			t.Errorf("%s: ids %v names %q, want %v %q", tc.name, l.IDs(), names, tc.ids, tc.names)
		}
	}
}
