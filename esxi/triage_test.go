package esxi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The tree listing, run by real busybox sh, names every file and link
// under the roots with the sizes os.Stat sees, follows a root that is a
// link, and reports a missing root.
func TestCmdListTreeOnBusybox(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	ok := okFn(t)
	w := h.work
	files := map[string]string{
		"scratch/log/hostd.log":        strings.Repeat("hostd line\n", 100),
		"scratch/log/it's $HOME.log":   "x",
		"etc/rc.local.d/local.sh":      "#!/bin/sh\n/tmp/backdoor &\n",
		"etc/ssh/sshd_config":          "PermitRootLogin yes\n",
		"etc/empty":                    "",
		"var/spool/cron/crontabs/root": "*/5 * * * * /tmp/x\n",
	}
	for p, c := range files {
		fp := filepath.Join(w, p)
		if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fp, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(w, "var/log"), 0o755); err != nil {
		t.Fatal(err)
	}
	// /var/log/hostd.log -> ../../scratch/log/hostd.log; a dangling link;
	// /scratchlink -> scratch (a root that is a link).
	for link, target := range map[string]string{
		"var/log/hostd.log": "../../scratch/log/hostd.log",
		"var/log/gone.log":  filepath.Join(w, "nowhere.log"),
		"scratchlink":       filepath.Join(w, "scratch"),
	} {
		if err := os.Symlink(target, filepath.Join(w, link)); err != nil {
			t.Fatal(err)
		}
	}
	roots := []string{w + "/var/log", w + "/scratchlink/log", w + "/etc", w + "/var/spool/cron/crontabs", w + "/missing", w + "/etc/ssh/sshd_config"}
	out, _ := h.mustRun(t, ok(CmdListTree(roots)))
	entries, err := ParseTreeListing(out)
	if err != nil {
		t.Fatalf("%v\n%q", err, out)
	}
	got := map[string]TreeEntry{}
	for _, e := range entries {
		got[string(e.Kind)+" "+strings.TrimPrefix(e.Path, w)] = e
	}
	want := map[string]int64{
		"L /var/log/hostd.log":              int64(len(files["scratch/log/hostd.log"])),
		"L /var/log/gone.log":               -1,
		"F /scratchlink/log/hostd.log":      int64(len(files["scratch/log/hostd.log"])),
		"F /scratchlink/log/it's $HOME.log": 1,
		"F /etc/rc.local.d/local.sh":        int64(len(files["etc/rc.local.d/local.sh"])),
		"F /etc/ssh/sshd_config":            int64(len(files["etc/ssh/sshd_config"])),
		"F /etc/empty":                      0,
		"F /var/spool/cron/crontabs/root":   int64(len(files["var/spool/cron/crontabs/root"])),
		"M /missing":                        0,
	}
	for k, size := range want {
		e, found := got[k]
		if !found || e.Size != size {
			t.Errorf("%s: %+v (found %v), want size %d", k, e, found, size)
		}
	}
	// sshd_config is listed twice: under /etc and as a root of its own.
	if len(entries) != len(want)+1 {
		t.Errorf("%d entries, want %d: %v", len(entries), len(want)+1, got)
	}
	if e := got["L /var/log/hostd.log"]; e.Resolved != w+"/scratch/log/hostd.log" {
		t.Errorf("link resolved to %q", e.Resolved)
	}
	if _, err := CmdListTree([]string{"relative"}); err == nil {
		t.Error("relative root accepted")
	}
	for _, bad := range []string{"F 1 2\x00/a", "X\x00/a\x00", "F x 2\x00/a\x00", "L 1 2\x00/a\x00", "F 1 2\x00rel\x00"} {
		if _, err := ParseTreeListing(bad); err == nil {
			t.Errorf("ParseTreeListing(%q) accepted", bad)
		}
	}
}

func TestTriageCommandsAreWellFormed(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, c := range TriageCommands() {
		if seen[c.Name] || c.Name == "" || strings.ContainsAny(c.Name, "/ ") || c.Why == "" {
			t.Errorf("bad or duplicate name %q", c.Name)
		}
		seen[c.Name] = true
		if f := strings.Fields(c.Line); len(f) == 0 || f[0] != c.Tool {
			t.Errorf("%s: line %q does not start with its tool %q", c.Name, c.Line, c.Tool)
		}
	}
	for _, need := range []string{"esxcli-software-vib-list", "esxcli-system-settings-kernel-list-execInstalledOnly", "esxcli-network-ip-connection-list", "esxcli-system-account-list"} {
		if !seen[need] {
			t.Errorf("%s is not in the triage", need)
		}
	}
}
