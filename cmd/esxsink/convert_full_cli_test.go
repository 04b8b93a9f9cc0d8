package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxsim"
	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/orchestrator"
)

// startSimLab runs the simulated host of scenario (a file, or YAML text
// when it holds a newline) in this process rather than as esxsink-lab,
// so a test can ask it what its disks held (DiskImage); the esxsink
// binary drives it over SSH and NFS all the same.
func startSimLab(t *testing.T, scenario string) (*runningLab, *esxsim.Host) {
	t.Helper()
	var sc *esxsim.Scenario
	var err error
	if strings.Contains(scenario, "\n") {
		sc, err = esxsim.ParseScenario([]byte(scenario))
	} else {
		sc, err = esxsim.LoadScenario(scenario)
	}
	if err != nil {
		t.Fatal(err)
	}
	pm := freePort(t)
	h, err := esxsim.New(sc, esxsim.Config{PortmapPort: pm, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := h.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); h.Close() })
	return &runningLab{hostArgs: []string{"--host", h.Addr().String(), "--host-key", h.Fingerprint()},
		env: append(os.Environ(), "ESXSINK_PASSWORD="+h.Password()), nfsPort: freePort(t), portmapPor: pm}, h
}

// Issue 11's "done when" for full.yaml: collect every VM (RDM LUNs
// included), then `esxsink vmdk convert`, with no flags, of every
// collected descriptor — each base, each snapshot's delta, each running
// disk frozen by our snapshot, disks in another folder and on another
// datastore with deltas over them in the VM folder, RDMs through their
// LUN's image — gives exactly the host's disk at that moment: the
// simulator's own content as the snapshot that froze the descriptor left
// it. A disk named like another VM's disk in another folder is collected
// under its own path and converts to its own bytes.
func TestCollectFullLabConvertsEveryDescriptor(t *testing.T) {
	lab, host := startSimLab(t, "../../examples/lab/full.yaml")
	caseDir := filepath.Join(t.TempDir(), "case")
	out, errOut, code := lab.run(t, lab.collectArgs(caseDir, "--all", "--unregistered", "--rdm")...)
	if code != 0 {
		t.Fatalf("collect: exit %d\n%s%s", code, out, errOut)
	}
	sources, converted := convertEveryDescriptor(t, caseDir, host)
	// The kinds of chain the scenario holds were all among them.
	for _, src := range []string{
		"/vmfs/volumes/datastore1/Mail [legacy]/Mail [legacy]_logs-000005.vmdk", // running, over a base in another folder
		"/vmfs/volumes/datastore1/Mail [legacy]/Mail [legacy]_logs-000002.vmdk", // a snapshot of the other branch
		"/vmfs/volumes/datastore1/Mail [legacy] logs/Mail [legacy]_logs.vmdk",
		"/vmfs/volumes/Old SAN [LUN 5]/Tom's lab $HOME/db-test-000001.vmdk", // over a base on another datastore
		"/vmfs/volumes/datastore1/shared/db-test.vmdk",
		"/vmfs/volumes/datastore1/db-test/db-test.vmdk",
		"/vmfs/volumes/Old SAN [LUN 5]/web01/web01_data.vmdk",               // a virtual RDM, through its LUN's image
		"/vmfs/volumes/datastore1/Mail [legacy]/Mail [legacy]_archive.vmdk", // a physical one
	} {
		if _, ok := converted[src]; !ok {
			t.Errorf("%s was not collected and converted", src)
		}
	}
	// The disk named like db-test's own, in another folder: its own path,
	// its own bytes.
	for dest, src := range map[string]string{"datastore1/shared/db-test.vmdk": "/vmfs/volumes/datastore1/shared/db-test.vmdk",
		"datastore1/db-test/db-test.vmdk": "/vmfs/volumes/datastore1/db-test/db-test.vmdk"} {
		if sources[dest] != src {
			t.Errorf("%s holds %q, want %s", dest, sources[dest], src)
		}
	}
	if a, b := converted["/vmfs/volumes/datastore1/shared/db-test.vmdk"], converted["/vmfs/volumes/datastore1/db-test/db-test.vmdk"]; a == b {
		t.Errorf("the two disks named db-test.vmdk convert to the same bytes (%s)", a)
	}
	if out, code := esx(t, "", "verify", caseDir); code != 0 {
		t.Errorf("verify: exit %d\n%s", code, out)
	}
	t.Logf("%d descriptors converted", len(converted))
}

// convertEveryDescriptor runs `esxsink vmdk convert`, with no flags, on
// every descriptor the case planned, and checks each result against the
// host's disk at that descriptor as the snapshot that froze it left it.
// It returns the planned descriptors (evidence path -> host path) and the
// md5 of each conversion by host path.
func convertEveryDescriptor(t *testing.T, caseDir string, host *esxsim.Host) (sources, converted map[string]string) {
	t.Helper()
	recs, _, err := hashlog.ReadLog(hashlog.LogPath(caseDir))
	if err != nil {
		t.Fatal(err)
	}
	sources = map[string]string{} // evidence path -> host path of each planned descriptor
	held := map[string]bool{}
	for _, r := range recs {
		var s custody.Step
		switch r.Type {
		case custody.TypeFilePlanned:
			if r.Decode(&s) == nil && s.Kind == orchestrator.KindDescriptor {
				sources[s.Dest] = s.Source
			}
		case custody.TypeFileVerified, custody.TypeFileCopiedLive:
			if r.Decode(&s) == nil {
				held[s.Dest] = true
			}
		}
	}
	ev := hashlog.EvidenceDir(caseDir)
	md5Line := regexp.MustCompile(`(?m)^md5\s+([0-9a-f]{32})\s`)
	converted = map[string]string{}
	for dest, src := range sources {
		if !held[dest] {
			t.Errorf("%s (%s) was planned but is not in the case", dest, src)
			continue
		}
		raw := filepath.Join(t.TempDir(), "disk.raw")
		out, code := esx(t, "", "vmdk", "convert", filepath.Join(ev, filepath.FromSlash(dest)), raw)
		os.Remove(raw)
		m := md5Line.FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Errorf("vmdk convert %s: exit %d\n%s", dest, code, out)
			continue
		}
		if want := diskImageMD5(t, host, src); m[1] != want {
			t.Errorf("%s converts to md5 %s; the host's disk at %s was %s", dest, m[1], src, want)
		}
		converted[src] = m[1]
	}
	return sources, converted
}

// diskImageMD5 is the md5 of the host's disk at descriptor desc as the
// snapshot that froze it left it.
func diskImageMD5(t *testing.T, h *esxsim.Host, desc string) string {
	t.Helper()
	r, n, err := h.DiskImage(desc)
	if err != nil {
		t.Fatal(err)
	}
	return readerMD5(t, io.NewSectionReader(r, 0, n), "the host's disk "+desc)
}

// readerMD5 is the md5 of what r holds; what names it in an error.
func readerMD5(t *testing.T, r io.Reader, what string) string {
	t.Helper()
	sum := md5.New()
	if _, err := io.Copy(sum, r); err != nil {
		t.Fatal(fmt.Errorf("read %s: %w", what, err))
	}
	return hex.EncodeToString(sum.Sum(nil))
}

// Names the workstation cannot store (a VM folder "ops:tools?", disks
// a:b.vmdk and a?b.vmdk beside a_b.vmdk, one on another datastore, all
// under a snapshot): the case stores them under tagged names, and every
// collected descriptor still converts with no flags to the host's disk:
// extents, parents and the datastore path resolve through the names the
// custody log recorded.
func TestCollectNamesNotStorableConvert(t *testing.T) {
	lab, host := startSimLab(t, `
host: {hostname: esx-names, version: 8.0.2, build: "22380479", user: root, password: "Names-Lab-2!"}
datastores:
  - {name: datastore1, type: VMFS-6}
  - {name: "store:2", type: VMFS-5}
vms:
  - id: 4
    name: "ops:tools?"
    power: "on"
    memory_mb: 16
    disks:
      - {name: "a:b.vmdk", size: 1MiB}
      - {name: "a?b.vmdk", size: 2MiB}
      - {name: "a_b.vmdk", size: 3MiB}
      - {name: "c|d.vmdk", datastore: "store:2", folder: "x*y", size: 1MiB}
    snapshots:
      - {name: "before"}
`)
	caseDir := filepath.Join(t.TempDir(), "case")
	out, errOut, code := lab.run(t, lab.collectArgs(caseDir, "--vm", "4")...)
	if code != 0 {
		t.Fatalf("collect: exit %d\n%s%s", code, out, errOut)
	}
	sources, converted := convertEveryDescriptor(t, caseDir, host)
	if len(sources) != 8 || len(converted) != 8 {
		t.Errorf("%d descriptors planned, %d converted, want 8: %v", len(sources), len(converted), sources)
	}
	for dest := range sources {
		if strings.ContainsAny(dest, `:?|*`) {
			t.Errorf("evidence path %q holds a character Windows cannot store", dest)
		}
	}
}
