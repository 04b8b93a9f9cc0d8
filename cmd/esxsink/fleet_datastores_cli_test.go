package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxsim"
)

// TestCollectVCenterSameNamedDatastores: two hosts (in two datacenters)
// each have a local datastore1, two different VMFS volumes holding a VM
// in app/ with the same file names. collect --vcenter --all puts each in
// a folder of its own, datastore1~<8 hex of the SHA-256 of its UUID>,
// recorded in the custody log against the host's paths; every file of
// both verifies, and each disk's hashes are those of the simulator's own
// disk. A --resume into the case maps them the same way and copies
// nothing again.
func TestCollectVCenterSameNamedDatastores(t *testing.T) {
	const scenario = "testdata/fleet-datastore1.yaml"
	fleet, err := esxsim.LoadFleet(scenario)
	if err != nil {
		t.Fatal(err)
	}
	// What the case must hold: per host address, the folder its
	// datastore1 goes to and the md5 of its VM's disk as the simulator
	// makes it.
	type want struct{ uuid, folder, diskMD5 string }
	wants := map[string]want{}
	for _, sc := range fleet.Hosts {
		uuid := sc.Datastores[0].UUID
		sum := sha256.Sum256([]byte(uuid))
		h, err := esxsim.New(sc, esxsim.Config{WorkDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		wants[sc.Host.Address] = want{uuid: uuid, folder: "datastore1~" + hex.EncodeToString(sum[:4]),
			diskMD5: diskImageMD5(t, h, "/vmfs/volumes/datastore1/app/app.vmdk")}
		h.Close()
	}
	if len(wants) != 2 || wants["127.0.0.21"].diskMD5 == wants["127.0.0.22"].diskMD5 {
		t.Fatalf("the scenario must give two hosts different disks: %+v", wants)
	}

	l := startFleetLabOn(t, scenario)
	caseDir := filepath.Join(t.TempDir(), "case")
	out, errOut, code := l.run(t, l.collectArgs(caseDir, "--all", "--parallel-hosts", "2", "-q")...)
	if code != 0 {
		t.Fatalf("exit %d, want 0: both hosts' datastore1 collected\n%s\n%s", code, out, errOut)
	}
	if vout, verr, vcode := l.run(t, "verify", caseDir); vcode != 0 || !strings.Contains(vout, "RESULT: PASS") {
		t.Fatalf("verify exit %d\n%s\n%s", vcode, vout, verr)
	}
	recs := caseRecords(t, caseDir)
	checkTables := func(recs []custody.Record, runs int) {
		t.Helper()
		tables := recordsOf[custody.Datastores](t, recs, custody.TypeDatastores)
		if len(tables) != 2*runs {
			t.Fatalf("%d datastore tables, want one per host and run (%d)", len(tables), 2*runs)
		}
		for _, tab := range tables {
			ip, _, _ := strings.Cut(tab.Host, ":")
			w := wants[ip]
			i := slices.IndexFunc(tab.Stores, func(d custody.Datastore) bool { return d.Name == "datastore1" })
			if i < 0 || tab.Stores[i].UUID != w.uuid || tab.Stores[i].Folder != w.folder ||
				!slices.Contains(tab.Stores[i].Paths, "/vmfs/volumes/datastore1") || !slices.Contains(tab.Stores[i].Paths, "/vmfs/volumes/"+w.uuid) {
				t.Errorf("host %s's table does not send its datastore1 (%s) to %s: %+v", tab.Host, w.uuid, w.folder, tab.Stores)
			}
		}
	}
	checkTables(recs, 1)
	var notes []string
	for _, n := range recordsOf[custody.Note](t, recs, custody.TypeNote) {
		notes = append(notes, n.Text)
	}
	for ip, w := range wants {
		want := fmt.Sprintf("datastore \"datastore1\" (UUID %s) of %s:%d is in the evidence folder as %s: another datastore of this case (another UUID) has the same name", w.uuid, ip, l.sshPort, w.folder)
		if !slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, want) }) {
			t.Errorf("no note %q in\n%s", want, strings.Join(notes, "\n"))
		}
	}
	verified := map[string]custody.Step{}
	for _, s := range recordsOf[custody.Step](t, recs, custody.TypeFileVerified) {
		verified[s.Dest] = s
	}
	for ip, w := range wants {
		dest := w.folder + "/app/app-flat.vmdk"
		s, ok := verified[dest]
		if !ok || !strings.HasPrefix(s.Host, ip+":") || s.Source != "/vmfs/volumes/datastore1/app/app-flat.vmdk" {
			t.Errorf("%s: not verified as host %s's disk: %+v", dest, ip, s)
			continue
		}
		if s.HostHashes["md5"] != w.diskMD5 || s.SinkHashes["md5"] != w.diskMD5 {
			t.Errorf("%s: md5 host %s sink %s, the simulator's disk is %s", dest, s.HostHashes["md5"], s.SinkHashes["md5"], w.diskMD5)
		}
		if got := fileMD5(t, filepath.Join(caseDir, "evidence", dest)); got != w.diskMD5 {
			t.Errorf("%s at rest: md5 %s, the simulator's disk is %s", dest, got, w.diskMD5)
		}
		for _, f := range []string{"app.vmx", "app.vmdk"} {
			if _, ok := verified[w.folder+"/app/"+f]; !ok {
				t.Errorf("%s/app/%s not verified", w.folder, f)
			}
		}
	}
	if n := len(recordsOf[custody.Uncollected](t, recs, custody.TypeNotCollected)); n != 0 {
		t.Errorf("%d files or VMs not collected", n)
	}
	entries, err := os.ReadDir(filepath.Join(caseDir, "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	var tops []string
	for _, e := range entries {
		tops = append(tops, e.Name())
	}
	if slices.Contains(tops, "datastore1") {
		t.Errorf("a datastore1 folder two volumes could share: %v", tops)
	}

	// --resume maps each volume to the same folder and copies nothing.
	out, errOut, code = l.run(t, l.collectArgs(caseDir, "--all", "--resume", "-q")...)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	after := caseRecords(t, caseDir)
	checkTables(after, 2)
	if n := len(recordsOf[custody.Step](t, after, custody.TypeFileVerified)); n != len(verified) {
		t.Errorf("the resumed run verified %d files again", n-len(verified))
	}
}

func fileMD5(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return readerMD5(t, f, path)
}

// TestCollectHostIntoCaseWithSameNamedDatastore: collect --host of one
// host, then of another whose datastore1 is another volume, into one
// case: the first keeps datastore1 (no clash when it ran, and a later run
// does not move it), the second gets datastore1~<tag of its UUID>; both
// verify.
func TestCollectHostIntoCaseWithSameNamedDatastore(t *testing.T) {
	const scenario = "testdata/fleet-datastore1.yaml"
	fleet, err := esxsim.LoadFleet(scenario)
	if err != nil {
		t.Fatal(err)
	}
	l := startFleetLabOn(t, scenario)
	caseDir := filepath.Join(t.TempDir(), "case")
	folders := map[string]string{} // host -> folder of its datastore1
	for _, name := range []string{"esx-east", "esx-west"} {
		addr := fmt.Sprintf("%s:%d", fleet.Host(name).Host.Address, l.sshPort)
		out, errOut, code := l.run(t, "collect", "--host", addr, "--host-key", l.hostKeys[name], "--all", "-q",
			"--nfs-port", fmt.Sprint(l.nfsPort), "--portmap-port", fmt.Sprint(l.portmapPort),
			"--case", caseDir, "--case-id", "FLEET-2", "--examiner", "tester")
		if code != 0 {
			t.Fatalf("collect --host %s: exit %d\n%s\n%s", name, code, out, errOut)
		}
		for _, tab := range recordsOf[custody.Datastores](t, caseRecords(t, caseDir), custody.TypeDatastores) {
			if tab.Host == addr {
				folders[name] = tab.Stores[slices.IndexFunc(tab.Stores, func(d custody.Datastore) bool { return d.Name == "datastore1" })].Folder
			}
		}
	}
	sum := sha256.Sum256([]byte(fleet.Host("esx-west").Datastores[0].UUID))
	if folders["esx-east"] != "datastore1" || folders["esx-west"] != "datastore1~"+hex.EncodeToString(sum[:4]) {
		t.Errorf("folders %v", folders)
	}
	for _, f := range folders {
		if _, err := os.Stat(filepath.Join(caseDir, "evidence", f, "app", "app-flat.vmdk")); err != nil {
			t.Error(err)
		}
	}
	if vout, verr, vcode := l.run(t, "verify", caseDir); vcode != 0 {
		t.Errorf("verify exit %d\n%s\n%s", vcode, vout, verr)
	}
}
