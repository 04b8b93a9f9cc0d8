package orchestrator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
)

// custodyCount counts the custody records of type typ whose line holds
// text.
func custodyCount(t *testing.T, e *simEnv, typ, text string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.caseDir, "custody.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, `"type":"`+typ+`"`) && strings.Contains(l, text) {
			n++
		}
	}
	return n
}

// A host without esxcfg-nas and mkfifo: the sink is mounted with esxcli
// storage nfs and the host hashes md5 only, and the custody log says why.
func TestCollectHostWithoutEsxcfgNasOrMkfifo(t *testing.T) {
	e := startSim(t, smallLab+"options:\n  missing_commands: [esxcfg-nas, mkfifo]\n")
	before := snapCounts(e)
	_, rep, err := collectAll(t, e, []string{"Unused server"}, false, false)
	if err != nil {
		t.Fatalf("collect: %v\n%+v", err, rep)
	}
	for _, f := range rep.Files {
		if !f.Verified || f.HostHashes["md5"] == "" || f.HostHashes["sha256"] != "" || f.SinkHashes["sha256"] == "" {
			t.Errorf("%s: verified %v host %v sink %v", f.Item.Dest, f.Verified, f.HostHashes, f.SinkHashes)
		}
	}
	var added, removed, esxcfg bool
	for _, c := range e.host.Footprint() {
		added = added || strings.HasPrefix(c.Line, "esxcli storage nfs add --host='127.0.0.1' --share='/esxsink' --volume-name='esxsink-")
		removed = removed || strings.HasPrefix(c.Line, "esxcli storage nfs remove --volume-name='esxsink-")
		esxcfg = esxcfg || strings.HasPrefix(c.Line, "esxcfg-nas -a") || strings.HasPrefix(c.Line, "esxcfg-nas -d")
	}
	if !added || !removed || esxcfg {
		t.Errorf("esxcli add %v, remove %v, esxcfg-nas tried %v", added, removed, esxcfg)
	}
	if n := custodyCount(t, e, custody.TypeAcquisitionNote, "lacks esxcfg-nas, mkfifo"); n != 1 {
		t.Errorf("%d notes name the missing tools", n)
	}
	if n := custodyCount(t, e, custody.TypeMountChecked, "received it intact"); n != 1 {
		t.Errorf("%d mount.checked records", n)
	}
	assertClean(t, e, before)
}

// A host that cannot hash at all is refused before anything is mounted.
func TestCollectHostWithoutHashTools(t *testing.T) {
	e := startSim(t, smallLab+"options:\n  missing_commands: [md5sum, sha256sum]\n")
	_, _, err := collectAll(t, e, []string{"Unused server"}, false, false)
	// The examiner-facing refusal is the product: it names what the host
	// lacks and why nothing could be verified.
	if err == nil || !strings.Contains(err.Error(), "has neither md5sum nor sha256sum") {
		t.Fatalf("err = %v", err)
	}
	for _, c := range e.host.Footprint() {
		if strings.HasPrefix(c.Line, "esxcfg-nas -a") {
			t.Errorf("mounted anyway: %q", c.Line)
		}
	}
	assertClean(t, e, nil)
}

// --memory: our snapshot saves the running VM's RAM and its .vmem and
// .vmsn are collected before the snapshot is removed.
func TestCollectMemory(t *testing.T) {
	e := startSim(t, smallLab)
	before := snapCounts(e)
	_, rep, err := collectOpts(t, e, []string{"Ubuntu"}, false, false, func(o *CollectOptions) { o.Memory = true })
	if err != nil {
		t.Fatalf("collect: %v\n%+v", err, rep)
	}
	var vmem, vmsn *FileOutcome
	for i, f := range rep.Files {
		switch f.Item.Kind {
		case KindMemory:
			vmem = &rep.Files[i]
		case KindSnapshot:
			if strings.Contains(f.Item.Note, "--memory") {
				vmsn = &rep.Files[i]
			}
		}
	}
	if vmem == nil || !vmem.Verified || vmem.Size != 16<<20 || vmsn == nil || !vmsn.Verified {
		t.Fatalf("memory files: vmem %+v vmsn %+v", vmem, vmsn)
	}
	if last := rep.Files[len(rep.Files)-1]; last.Item.Kind != KindMemory && last.Item.Kind != KindSnapshot {
		t.Errorf("the memory files are not at the end of the report: %s", last.Item.Dest)
	}
	created := false
	for _, c := range e.host.Footprint() {
		created = created || strings.HasPrefix(c.Line, "vim-cmd vmsvc/snapshot.create 1 ") && strings.HasSuffix(c.Line, " 1 0")
	}
	if !created {
		t.Error("no snapshot.create with memory 1 quiesce 0")
	}
	assertClean(t, e, before)
}
