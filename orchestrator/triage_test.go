package orchestrator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/hashlog"
)

// triageLab is smallLab with a planted persistence line in local.sh and
// root's crontab, and a host without lsof.
const triageLab = smallLab + `
files:
  - path: /etc/rc.local.d/local.sh
    content: "#!/bin/sh\n/bin/busybox nohup /tmp/.x/svc -p 8443 >/dev/null 2>&1 &\nexit 0\n"
  - path: /var/spool/cron/crontabs/root
    content: "1 * * * * /sbin/auto-backup.sh\n*/10 * * * * /tmp/.x/beacon.sh\n"
options:
  missing_commands: [lsof]
`

// A triage copies every listed artifact that exists through the sink and
// verifies it, keeps each command's output with its hash, and notes a
// missing command without failing.
func TestTriageCollectsHostArtifacts(t *testing.T) {
	e := startSim(t, triageLab)
	ctx := context.Background()
	tr, err := Triage(ctx, TriageOptions{Runner: e.runner, Log: e.log, Host: e.conn.Addr(), RunID: "0badcafe", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	plan := &Plan{SinkFree: -1}
	plan.AddTriage(tr)
	rep, err := Collect(ctx, plan, CollectOptions{
		Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(), RunID: "0badcafe",
		SinkHost: "127.0.0.1", Retries: 1,
		UnmountBackoff: 50e6, Logger: quietLogger(),
	})
	if err != nil {
		for _, f := range rep.Files {
			if !f.Verified {
				t.Logf("%s: %s", f.Dest, f.Error)
			}
		}
		t.Fatal(err)
	}

	// Every artifact that exists is copied, verified and byte-identical
	// to the host's file (a live log up to its listed size).
	byDest := map[string]FileOutcome{}
	for _, f := range rep.Files {
		byDest[f.Dest] = f
	}
	want := []string{"/etc/passwd", "/etc/shadow", "/etc/rc.local.d/local.sh", "/etc/ssh/sshd_config", "/etc/vmware/esx.conf",
		"/var/spool/cron/crontabs/root", "/.ash_history", "/var/run/bootTime", "/var/log/hostd.log", "/var/log/shell.log",
		"/var/log/vmkernel.log", "/var/run/log/auth.log", "/var/run/log/vobd.log", "/var/run/log/syslog.log", "/scratch/log/vmksummary.log"}
	for _, p := range want {
		f, ok := byDest[TriageDest(p)]
		// shell.log records our own commands while it is copied: a live
		// log may be copied live, never a frozen file.
		if !ok || !(f.Verified || f.Item.Live && f.CopiedLive) {
			t.Errorf("%s: not copied and verified (or copied live): %+v", p, f)
			continue
		}
		if f.CopiedLive && (f.SizeAtEnd <= f.SizeAtStart || f.Size != f.SizeAtStart || f.LiveReason == "") {
			t.Errorf("%s: copied live without growing: %+v", p, f)
		}
		got, err := os.ReadFile(filepath.Join(hashlog.EvidenceDir(e.caseDir), filepath.FromSlash(f.Dest)))
		if err != nil {
			t.Fatal(err)
		}
		host, _, rc := e.host.Exec(ctx, "cat "+esxi.Quote(p))
		if p == "/etc/vmware/esx.conf" {
			// Copied while our mount was in it: the file as found is
			// the triage command's output.
			if !f.Item.Live || readKept(t, e, findOutput(t, tr, "cat-etc-vmware-esx.conf")) != host {
				t.Errorf("esx.conf: live %v, and the kept output differs from the host's file", f.Item.Live)
			}
			continue
		}
		if rc != 0 || !strings.HasPrefix(host, string(got)) || (!f.Item.Live && host != string(got)) || f.Size != f.SizeAtStart {
			t.Errorf("%s: copy of %d bytes (%d at its start) does not match the host's %d bytes", p, len(got), f.SizeAtStart, len(host))
		}
		if f.HostHashes["md5"] == "" || f.HostHashes["sha256"] == "" || f.HostHashes["md5"] != f.SinkHashes["md5"] || f.AtRest["sha256"] != f.HostHashes["sha256"] {
			t.Errorf("%s: host %v sink %v at rest %v", p, f.HostHashes, f.SinkHashes, f.AtRest)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(hashlog.EvidenceDir(e.caseDir), "host-artifacts", "files", "etc", "rc.local.d", "local.sh")); !strings.Contains(string(b), "/tmp/.x/svc -p 8443") {
		t.Errorf("the planted local.sh line is not in the copy: %q", b)
	}
	// /var/log/auth.log is a link to /var/run/log/auth.log: recorded, and
	// the target copied once.
	var link *TriageLink
	for i := range tr.Links {
		if tr.Links[i].Path == "/var/log/auth.log" {
			link = &tr.Links[i]
		}
	}
	if link == nil || link.Resolved != "/var/run/log/auth.log" || link.Dest != TriageDest("/var/run/log/auth.log") {
		t.Errorf("link /var/log/auth.log: %+v", link)
	}
	if _, ok := byDest[TriageDest("/var/log/auth.log")]; ok {
		t.Error("the link /var/log/auth.log was copied as a file of its own")
	}
	if strings.Join(tr.Missing, ",") != "/usr/local/etc" {
		t.Errorf("missing roots %v, want /usr/local/etc", tr.Missing)
	}

	// Each command's output is kept, and its record holds the kept
	// file's hash; lsof is missing and only noted.
	names := map[string]custody.TriageOutput{}
	for _, o := range tr.Outputs {
		names[o.Name] = o
		if !o.Ran {
			continue
		}
		b, err := os.ReadFile(filepath.Join(e.caseDir, filepath.FromSlash(o.StdoutFile)))
		s := sha256.Sum256(b)
		if err != nil || hex.EncodeToString(s[:]) != o.StdoutSHA256 || int64(len(b)) != o.StdoutBytes || o.CommandSeq == 0 {
			t.Errorf("%s: kept output %s (%v) does not match its record %+v", o.Name, o.StdoutFile, err, o)
		}
	}
	if len(tr.Outputs) != len(esxi.TriageCommands()) {
		t.Errorf("%d outputs for %d commands", len(tr.Outputs), len(esxi.TriageCommands()))
	}
	if o := names["lsof"]; o.Ran || !strings.Contains(o.Note, "no lsof") {
		t.Errorf("lsof on a host without it: %+v", o)
	}
	vib := names["esxcli-software-vib-list"]
	if recs, err := esxi.ParseCSV(readKept(t, e, vib)); vib.ExitStatus != 0 || err != nil || len(recs) == 0 || recs[0].Get("Acceptance Level") == "" {
		t.Errorf("vib list: %+v, %d records, %v", vib, len(recs), err)
	}
	if o := names["esxcli-system-settings-kernel-list-execInstalledOnly"]; o.ExitStatus != 0 || !strings.Contains(readKept(t, e, o), "execInstalledOnly") {
		t.Errorf("execInstalledOnly: %+v", o)
	}

	// The custody log has a triage.output per command and a
	// file.verified (or file.copied_live) per copied artifact, and the
	// whole case verifies.
	recs, _, err := hashlog.ReadLog(hashlog.LogPath(e.caseDir))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range recs {
		count[r.Type]++
		if r.Type == custody.TypeTriageOutput {
			var o custody.TriageOutput
			if err := json.Unmarshal(r.Data, &o); err != nil || o.Command == "" || o.Name == "" {
				t.Errorf("triage.output record %s: %v", r.Data, err)
			}
		}
	}
	if count[custody.TypeTriageOutput] != len(tr.Outputs) || count[TypeTriageListing] != 1 || count[custody.TypeFileVerified]+count[custody.TypeFileCopiedLive] != len(rep.Files) {
		t.Errorf("records: %v; %d outputs, %d files", count, len(tr.Outputs), len(rep.Files))
	}
	vr, err := hashlog.VerifyCase(ctx, e.caseDir)
	if err != nil || !vr.OK() {
		t.Errorf("verify case: %v %+v", err, vr)
	}
	noted := 0
	for _, o := range tr.Outputs {
		if o.Note != "" {
			noted++
		}
	}
	t.Logf("%d files (%d bytes) copied and verified, %d commands (%d noted), %d links", len(rep.Files), plan.Bytes, len(tr.Outputs), noted, len(tr.Links))
}

func findOutput(t *testing.T, tr *TriageResult, name string) custody.TriageOutput {
	t.Helper()
	for _, o := range tr.Outputs {
		if o.Name == name {
			return o
		}
	}
	t.Fatalf("no triage output %s", name)
	return custody.TriageOutput{}
}

func readKept(t *testing.T, e *simEnv, o custody.TriageOutput) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.caseDir, filepath.FromSlash(o.StdoutFile)))
	if err != nil {
		t.Fatalf("%s: %v", o.Name, err)
	}
	return string(b)
}

// TestTriageFolder: a fleet host's triage lists its files, and the
// targets of its links, under its own folder.
func TestTriageFolder(t *testing.T) {
	e := startSim(t, triageLab)
	folder := FleetTriageFolder("esx01.lab/a")
	if folder != "host-artifacts/esx01.lab_a" {
		t.Errorf("FleetTriageFolder = %q", folder)
	}
	tr, err := Triage(context.Background(), TriageOptions{Runner: e.runner, Host: "esx01", Folder: folder, ListOnly: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Folder != folder || len(tr.Items) < 10 {
		t.Fatalf("folder %q, %d items", tr.Folder, len(tr.Items))
	}
	for _, it := range tr.Items {
		if it.Method != MethodSkip && !strings.HasPrefix(it.Dest, folder+"/files/") {
			t.Errorf("%s goes to %s, outside %s", it.Source, it.Dest, folder)
		}
	}
	for _, l := range tr.Links {
		if l.Dest != "" && !strings.HasPrefix(l.Dest, folder+"/files/") {
			t.Errorf("link %s's target goes to %s", l.Path, l.Dest)
		}
	}
}
