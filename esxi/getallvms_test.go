package esxi

import (
	"slices"
	"strings"
	"testing"
)

func TestParseGetAllVMsAnnotated(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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

// TestParseGetAllVMsOddNames: vim-cmd prints a name verbatim, newlines
// included, so a row may span lines; every vmid must come out.
func TestParseGetAllVMsOddNames(t *testing.T) {
	t.Parallel()
	l, err := ParseGetAllVMs(fixture(t, "getallvms-odd-names.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := l.IDs(); !slices.Equal(got, []int{3, 5, 8, 116, 12, 14, 21}) {
		t.Fatalf("IDs %v", got)
	}
	if !slices.Equal(l.Named, []int{3, 5, 2031, 8, 116, 12, 14, 21}) {
		t.Errorf("Named %v", l.Named)
	}
	if len(l.Unparsed) != 0 {
		t.Errorf("Unparsed %v", l.Unparsed)
	}
	want := map[int]struct{ name, path, anno string }{
		// The padding swallows the leading blanks: names are best effort.
		3:   {"lead and trail", "  lead and trail  /  lead and trail  .vmx", "web front"},
		5:   {"Finance\nDB (prod)", "Finance DB/Finance DB.vmx", "owner: finance\n2031 tickets migrated"},
		8:   {"tab\there", "tab here/tab here.vmx", ""},
		116: {`CORP\svc backup`, `CORP\svc backup/x.vmx`, ""},
		12:  {`say "hi" $(reboot)`, "quoted/quoted.vmx", ""},
		14:  {"Prüfung ü 日本", "Prüfung/Prüfung.vmx", "Zähler"},
		21:  {"\nstarts with newline", "nl/nl.vmx", ""},
	}
	for _, vm := range l.VMs {
		w := want[vm.ID]
		if vm.Name != w.name || vm.Path != w.path || vm.Annotation != w.anno || vm.Datastore != "datastore1" {
			t.Errorf("vmid %d: name %q path %q annotation %q, want %q %q %q", vm.ID, vm.Name, vm.Path, vm.Annotation, w.name, w.path, w.anno)
		}
	}
	if l.VMs[1].Line != 3 || l.VMs[2].Line != 6 {
		t.Errorf("lines %d %d, want 3 6", l.VMs[1].Line, l.VMs[2].Line)
	}
}

func TestParseGetAllVMsJoin(t *testing.T) {
	t.Parallel()
	const hdr = "Vmid   Name   File   Guest OS   Version   Annotation\n"
	for _, tc := range []struct {
		name, in string
		ids      []int
		named    []int
		names    []string
	}{
		{"name spans three lines", hdr + "4   a\nb\nc   [ds] abc/abc.vmx   g   vmx-8\n", []int{4}, []int{4}, []string{"a\nb\nc"}},
		{"blank line inside the name", hdr + "4   a\n\nc   [ds] ac/ac.vmx   g   vmx-8\n", []int{4}, []int{4}, []string{"a\n\nc"}},
		// A number-led annotation line is no row: the next VM stays whole.
		{"annotation line does not steal the next VM", hdr + "1   a   [ds] a/a.vmx   g   vmx-8   note\n2031 tickets\n2   b   [ds] b/b.vmx   g   vmx-8\n",
			[]int{1, 2}, []int{1, 2031, 2}, []string{"a", "b"}},
		// A second name line that looks like a row is taken as one: the
		// real vmid 7 is still in Named, for discovery to ask vim-cmd.
		{"second name line looks like a row", hdr + "7   x\n2024 y   [ds] xy/xy.vmx   g   vmx-8\n", []int{2024}, []int{7, 2024}, []string{"y"}},
		{"join is bounded", hdr + "9   a" + strings.Repeat("\nz", maxJoinLines) + "   [ds] a/a.vmx   g   vmx-8\n", nil, []int{9}, nil},
		{"row never completes", hdr + "9   a\nb\n", nil, []int{9}, nil},
		{"skipped vmid is named", hdr + "Skipping invalid VM '31'\n", nil, []int{31}, nil},
	} {
		l, err := ParseGetAllVMs(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var names []string
		for _, vm := range l.VMs {
			names = append(names, vm.Name)
		}
		if !slices.Equal(l.IDs(), tc.ids) && len(tc.ids)+len(l.IDs()) > 0 || !slices.Equal(names, tc.names) || !slices.Equal(l.Named, tc.named) {
			t.Errorf("%s: ids %v names %q named %v, want %v %q %v", tc.name, l.IDs(), names, l.Named, tc.ids, tc.names, tc.named)
		}
	}
}
