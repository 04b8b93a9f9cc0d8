package esxsim

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The parsers below read ESXi output by its structure, the way the
// orchestrator must. Each is checked against fixtures modelled on real
// outputs (testdata/) and against what the simulator prints, so a
// simulator format that drifted from the real one fails here.

type vmRow struct{ id, name, file, guest, version, annotation string }

// getallvms columns are padded to the widest cell plus three spaces;
// names and datastores may hold spaces and brackets, so a row is split on
// runs of three or more blanks and checked cell by cell.
var (
	colSep    = regexp.MustCompile(`\s{3,}`)
	vmidCell  = regexp.MustCompile(`^\d+$`)
	vmxCell   = regexp.MustCompile(`^\[.*\] .*\.vmx$`)
	hwVerCell = regexp.MustCompile(`^vmx-\d+$`)
)

func parseGetAllVMs(t *testing.T, out string) (hdr []string, rows []vmRow) {
	t.Helper()
	ls := lines(out)
	if len(ls) == 0 {
		t.Fatal("getallvms: no output")
	}
	hdr = strings.Fields(strings.ReplaceAll(ls[0], "Guest OS", "Guest_OS"))
	want := []string{"Vmid", "Name", "File", "Guest_OS", "Version"}
	if len(hdr) < 5 || strings.Join(hdr[:5], " ") != strings.Join(want, " ") || (len(hdr) == 6 && hdr[5] != "Annotation") || len(hdr) > 6 {
		t.Fatalf("getallvms header %q", ls[0])
	}
	for _, l := range ls[1:] {
		cells := colSep.Split(strings.TrimRight(l, " "), -1)
		var m []string
		if len(cells) >= 5 && len(cells) <= 6 && vmidCell.MatchString(cells[0]) && vmxCell.MatchString(cells[2]) && hwVerCell.MatchString(cells[4]) {
			m = append([]string{l}, cells...)
			if len(m) == 6 {
				m = append(m, "")
			}
		}
		if m == nil {
			if len(rows) == 0 || len(hdr) != 6 {
				t.Fatalf("getallvms: line %q is neither a VM nor an annotation continuation", l)
			}
			rows[len(rows)-1].annotation += "\n" + l
			continue
		}
		if len(hdr) == 5 && m[6] != "" {
			t.Fatalf("getallvms: annotation %q without an Annotation column", m[6])
		}
		rows = append(rows, vmRow{m[1], m[2], m[3], m[4], m[5], m[6]})
	}
	return hdr, rows
}

type snapNode struct {
	depth                          int
	name, id, desc, created, state string
}

var snapCreated = regexp.MustCompile(`^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}$`)

func parseSnapshotTree(t *testing.T, out string) []snapNode {
	t.Helper()
	ls := lines(out)
	if len(ls) == 0 || ls[0] != "Get Snapshot:" {
		t.Fatalf("snapshot.get: first line %q", out)
	}
	var nodes []snapNode
	fieldRe := regexp.MustCompile(`^(-*)Snapshot (Name|Id|Desciption|Created On|State)\s*:(?: (.*))?$`)
	for _, l := range ls[1:] {
		switch {
		case l == "|-ROOT":
			nodes = append(nodes, snapNode{depth: 0})
		case strings.HasSuffix(l, "|-CHILD"):
			d := strings.TrimSuffix(l, "|-CHILD")
			if strings.Trim(d, "-") != "" || len(d)%2 != 0 {
				t.Fatalf("snapshot.get: bad child marker %q", l)
			}
			nodes = append(nodes, snapNode{depth: len(d) / 2})
		default:
			m := fieldRe.FindStringSubmatch(l)
			if m == nil || len(nodes) == 0 {
				t.Fatalf("snapshot.get: unexpected line %q", l)
			}
			n := &nodes[len(nodes)-1]
			if len(m[1]) != 2*(n.depth+1) {
				t.Fatalf("snapshot.get: field %q has %d dashes at depth %d", l, len(m[1]), n.depth)
			}
			switch m[2] {
			case "Name":
				n.name = m[3]
			case "Id":
				n.id = m[3]
			case "Desciption":
				n.desc = m[3]
			case "Created On":
				if !snapCreated.MatchString(m[3]) {
					t.Fatalf("snapshot.get: date %q is not M/D/YYYY H:MM:SS", m[3])
				}
				n.created = m[3]
			case "State":
				n.state = m[3]
			}
		}
	}
	for _, n := range nodes {
		if n.name == "" || n.id == "" || n.created == "" || (n.state != "powered on" && n.state != "powered off" && n.state != "suspended") {
			t.Fatalf("snapshot.get: incomplete node %+v", n)
		}
	}
	return nodes
}

// parseStructList reads esxcli's default list-of-structures layout.
func parseStructList(t *testing.T, out string) []map[string]string {
	t.Helper()
	var list []map[string]string
	for _, l := range lines(out) {
		switch {
		case strings.TrimSpace(l) == "":
		case !strings.HasPrefix(l, " "):
			list = append(list, map[string]string{"": l})
		case strings.HasPrefix(l, "   ") && len(list) > 0:
			k, v, ok := strings.Cut(l[3:], ": ")
			if !ok {
				k, ok = strings.CutSuffix(l[3:], ":")
			}
			if !ok {
				t.Fatalf("esxcli list: line %q", l)
			}
			list[len(list)-1][k] = v
		default:
			t.Fatalf("esxcli list: line %q", l)
		}
	}
	return list
}

// parseTable reads esxcli's default table: the dash row gives the column
// ranges, and every cell must sit inside its column.
func parseTable(t *testing.T, out string) []map[string]string {
	t.Helper()
	ls := lines(out)
	if len(ls) < 2 {
		t.Fatalf("table: %q", out)
	}
	type col struct{ lo, hi int }
	var cols []col
	for i := 0; i < len(ls[1]); {
		if ls[1][i] != '-' {
			i++
			continue
		}
		j := i
		for j < len(ls[1]) && ls[1][j] == '-' {
			j++
		}
		cols = append(cols, col{i, j})
		i = j
	}
	cell := func(l string, c col, last bool) string {
		if c.lo > len(l) {
			return ""
		}
		hi := min(c.hi, len(l))
		if last {
			hi = len(l)
		}
		if hi < len(l) && l[hi] != ' ' {
			t.Fatalf("table: line %q spills out of column %d-%d", l, c.lo, c.hi)
		}
		return strings.TrimSpace(l[c.lo:hi])
	}
	var names []string
	for i, c := range cols {
		names = append(names, cell(ls[0], c, i == len(cols)-1))
	}
	var rows []map[string]string
	for _, l := range ls[2:] {
		r := map[string]string{}
		for i, c := range cols {
			r[names[i]] = cell(l, c, i == len(cols)-1)
		}
		rows = append(rows, r)
	}
	return rows
}

func parseCSV(t *testing.T, out string) []map[string]string {
	t.Helper()
	ls := lines(out)
	if len(ls) == 0 || !strings.HasSuffix(ls[0], ",") {
		t.Fatalf("csv: header %q must end with a comma", out)
	}
	hdr := strings.Split(strings.TrimSuffix(ls[0], ","), ",")
	for i := 1; i < len(hdr); i++ {
		if hdr[i-1] >= hdr[i] || strings.Contains(hdr[i], " ") {
			t.Fatalf("csv: keys %q are not sorted, space-free names", hdr)
		}
	}
	var rows []map[string]string
	for _, l := range ls[1:] {
		if !strings.HasSuffix(l, ",") {
			t.Fatalf("csv: row %q must end with a comma", l)
		}
		cells := strings.Split(strings.TrimSuffix(l, ","), ",")
		if len(cells) != len(hdr) {
			t.Fatalf("csv: row %q has %d cells for %d keys", l, len(cells), len(hdr))
		}
		r := map[string]string{}
		for i, k := range hdr {
			r[k] = cells[i]
		}
		rows = append(rows, r)
	}
	return rows
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestParsersOnFixtures shows the structural parsers accept outputs shaped
// like real ones, so their acceptance of the simulator's output means
// something.
func TestParsersOnFixtures(t *testing.T) {
	hdr, rows := parseGetAllVMs(t, fixture(t, "getallvms-annotated.txt"))
	if len(hdr) != 6 || len(rows) != 2 || rows[0].name != "Mail [legacy]" || rows[1].annotation != "front end,\nrebuilt 2023" {
		t.Fatalf("annotated fixture: %q %+v", hdr, rows)
	}
	hdr, rows = parseGetAllVMs(t, fixture(t, "getallvms-plain.txt"))
	if len(hdr) != 5 || len(rows) != 1 || rows[0].file != "[local-ds] build-agent/build-agent.vmx" {
		t.Fatalf("plain fixture: %q %+v", hdr, rows)
	}
	nodes := parseSnapshotTree(t, fixture(t, "snapshot-get-tree.txt"))
	if len(nodes) != 2 || nodes[1].depth != 1 || nodes[1].desc != "" || nodes[0].id != "2" {
		t.Fatalf("tree fixture: %+v", nodes)
	}
	list := parseStructList(t, fixture(t, "esxcli-vm-process-list.txt"))
	if len(list) != 2 || list[0]["Display Name"] != "Mail [legacy]" || list[1]["World ID"] != "3381311" {
		t.Fatalf("vm process list fixture: %v", list)
	}
	tab := parseTable(t, fixture(t, "esxcli-filesystem-list.txt"))
	if len(tab) != 2 || tab[0]["Volume Name"] != "ssd-store" || tab[1]["Volume Name"] != "" || tab[1]["Free"] != "4112941056" {
		t.Fatalf("filesystem fixture: %v", tab)
	}
	csv := parseCSV(t, fixture(t, "esxcli-vm-process-list.csv"))
	if len(csv) != 1 || csv[0]["DisplayName"] != "web01" {
		t.Fatalf("csv fixture: %v", csv)
	}
}

var _ = fmt.Sprint
