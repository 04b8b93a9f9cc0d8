package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/orchestrator"
)

// collect --transport sftp needs no NFS port: with the NFS and portmap
// ports it is given held by another listener, it still collects every
// file, verified, the case verifies, and the host is left clean.
func TestCollectCLITransportSFTP(t *testing.T) {
	lab := startLab(t, "8MiB")
	var held []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		held = append(held, fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
	}
	caseDir := filepath.Join(t.TempDir(), "case")
	args := append([]string{"collect"}, lab.hostArgs...)
	args = append(args, "--case", caseDir, "--case-id", "SFTP-1", "--examiner", "Test Examiner", "--all", "--json",
		"--transport", "sftp", "--nfs-port", held[0], "--portmap-port", held[1])
	out, errOut, code := lab.run(t, args...)
	if code != 0 {
		t.Fatalf("collect --transport sftp exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var rep orchestrator.Outcome
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	if !rep.OK() || len(rep.Files) == 0 {
		t.Fatalf("report not OK: %+v", rep)
	}
	for _, f := range rep.Files {
		if f.HostHashes["md5"] == "" || f.HostHashes["md5"] != f.SinkHashes["md5"] || f.HostHashes["sha256"] != f.AtRest["sha256"] {
			t.Errorf("%s: host %v at rest %v", f.Dest, f.HostHashes, f.AtRest)
		}
	}
	if o, c := esx(t, "", "verify", caseDir); c != 0 {
		t.Errorf("verify exit %d:\n%s", c, o)
	}
	b, err := os.ReadFile(hashlog.LogPath(caseDir))
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	if !strings.Contains(log, "transport sftp") || strings.Contains(log, `"type":"nas.mounted"`) || !strings.Contains(log, "no NFS, MOUNT or portmap port is bound") {
		t.Errorf("custody log does not show an sftp run without NFS")
	}
	if _, e, c := lab.run(t, append(append([]string{"collect"}, lab.hostArgs...), "--transport", "ftp", "--all", "--case", caseDir)...); c == 0 || !strings.Contains(e, "choose nfs or sftp") {
		t.Errorf("--transport ftp: exit %d, %s", c, e)
	}
	lab.assertHostClean(t)
}
