package esxsim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShippedScenarios builds every scenario in examples/lab, every host
// of a fleet.
func TestShippedScenarios(t *testing.T) {
	files, err := filepath.Glob("../examples/lab/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("scenarios: %v %v", files, err)
	}
	for _, f := range files {
		fs, err := LoadFleet(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		fl, err := NewFleet(fs, FleetConfig{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, h := range fl.Hosts() {
			out, _, code := h.Exec(context.Background(), "vim-cmd vmsvc/getallvms")
			if code != 0 || !strings.HasPrefix(out, "Vmid") {
				t.Fatalf("%s: %s: getallvms: %q", f, h.Hostname(), out)
			}
		}
		fl.Close()
	}
}

// TestScenarioErrors checks that mistakes in a scenario are reported, not
// silently ignored.
func TestScenarioErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"hostt: {hostname: x}", "field hostt not found"},
		{"vms: [{name: a, datastore: nowhere}]", `unknown datastore "nowhere"`},
		{"vms: [{name: a, power: maybe}]", "power"},
		{"vms: [{name: a, disks: [{kind: rdmp}]}]", "needs device"},
		{"vms: [{name: a, disks: [{kind: rdmp, device: naa.1}]}]", "unknown device"},
		{"vms: [{name: a, disks: [{size: 1000}]}]", "multiple of 512"},
		{"vms: [{name: a, current: x}]", "not in its tree"},
		{"vms: [{name: 'a\"b', disks: [{size: 1MiB}]}]", "quote"},
		{"datastores: [{name: d, type: NTFS}]", "VMFS"},
		{"faults: [{kind: bad_sectors}]", "needs path"},
		{"faults: [{kind: nfs_write_error, status: BOGUS}]", "unknown status"},
		{"faults: [{kind: explode}]", "unknown fault kind"},
		{"vms: [{name: a, disks: [{size: 12 parsecs}]}]", "unknown unit"},
	} {
		_, err := ParseScenario([]byte(c.yaml))
		// A trainer fixes the scenario from this message alone: its
		// words are the product.
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.yaml, err, c.want)
		}
	}
	for in, want := range map[string]Size{"512": 512, "64MiB": 64 << 20, "1G": 1 << 30, "2TB": 2e12, "1.5KiB": 1536} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v", in, got, err)
		}
	}
}

// TestRecordedOutputAndFiles checks that recorded outputs replace a
// command's output, from inline text and from a file beside the scenario.
func TestRecordedOutputAndFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "summary.txt"), []byte("recorded summary\n"), 0o644)
	y := `
host: {hostname: rec}
vms: [{id: 5, name: v}]
recorded:
  - {command: "vim-cmd vmsvc/get.summary 5", stdout_file: summary.txt}
  - {command: "esxcli network ip interface list", stdout: "Name: vmk0\n", stderr: "warn\n", exit: 3}
files:
  - {path: /etc/notes.txt, content: "hello\n"}
`
	f := filepath.Join(dir, "s.yaml")
	os.WriteFile(f, []byte(y), 0o644)
	sc, err := LoadScenario(f)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(sc, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, c := range []struct {
		cmd, out, errOut string
		code             int
	}{
		{"vim-cmd vmsvc/get.summary 5", "recorded summary\n", "", 0},
		{"/sbin/esxcli network ip interface list", "Name: vmk0\n", "warn\n", 3},
		{"cat /etc/notes.txt", "hello\n", "", 0},
		{"esxcli network ip interface list | wc -l", "1\n", "warn\n", 0},
	} {
		out, errOut, code := h.Exec(context.Background(), c.cmd)
		if out != c.out || errOut != c.errOut || code != c.code {
			t.Errorf("%s: %q %q %d", c.cmd, out, errOut, code)
		}
	}
}
