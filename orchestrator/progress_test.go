package orchestrator

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/esxsink/esxsink/nfssink"
)

// sinkAt reports received bytes per path, as the sink's status does.
func sinkAt(received map[string]int64) func() nfssink.Status {
	return func() nfssink.Status {
		var st nfssink.Status
		for p, n := range received {
			st.Receiving = append(st.Receiving, nfssink.FileStatus{Path: p, Received: n, RateBps: 10 << 20})
		}
		return st
	}
}

func TestProgressTrackerParallelFiles(t *testing.T) {
	t.Parallel()
	a := PlanItem{Dest: "vm/a-flat.vmdk", Size: 100 << 20}
	b := PlanItem{Dest: "vm/b-flat.vmdk", Size: 100 << 20}
	var out bytes.Buffer
	p := &ProgressTracker{Total: 300 << 20, Display: &LineProgress{W: &out},
		// b is a retry: the sink receives it as .attempt2.
		Status: sinkAt(map[string]int64{a.Dest: 50 << 20, b.Dest + ".attempt2": 25 << 20, "other/x": 1 << 30})}
	// Both started 5 s ago: a's 50 MiB came at 10 MiB/s.
	started := time.Now().Add(-5 * time.Second)
	p.Event(Progress{Item: b, Index: 2, Total: 3, Started: started})
	p.Event(Progress{Item: a, Index: 1, Total: 3, Started: started})
	p.start = time.Now().Add(-5 * time.Second)
	v := p.View()
	if len(v.Files) != 2 || v.Files[0].Dest != a.Dest || v.Files[1].Received != 25<<20 {
		t.Fatalf("view %+v", v)
	}
	if v.All != 75<<20 {
		t.Errorf("all %d, want %d", v.All, 75<<20)
	}
	// 75 MiB in 5 s: 225 MiB left at 15 MiB/s.
	if v.ETA.Round(time.Second) != 15*time.Second {
		t.Errorf("ETA %s", v.ETA)
	}
	// The file's ETA is reckoned as the total's: 50 MiB left at 10 MiB/s.
	if f := v.Files[0]; f.ETA.Round(time.Second) != 5*time.Second || f.RateBps < 10<<20-1<<10 || f.RateBps > 10<<20 {
		t.Errorf("file %s: rate %.0f, ETA %s", f.Dest, f.RateBps, f.ETA)
	}
	p.Display.Update(v)
	p.Event(Progress{Item: a, Index: 1, Total: 3, Done: true, Result: &FileOutcome{Dest: a.Dest, Size: a.Size, Verified: true}})
	if v := p.View(); v.Done != a.Size || len(v.Files) != 1 {
		t.Errorf("after a finished: %+v", v)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("lines: %q", lines)
	}
	// The units of every other line: binary, with a space ("50.0 MiB").
	if !strings.Contains(lines[0], "vm/a-flat.vmdk: 50.0 MiB of 100.0 MiB, 10.0 MiB/s") || !strings.Contains(lines[0], "total 75.0 MiB of 300.0 MiB, ETA 15s") {
		t.Errorf("progress line %q", lines[0])
	}
	if !strings.HasPrefix(lines[2], "[1/3] vm/a-flat.vmdk  100.0 MiB") || !strings.HasSuffix(lines[2], "verified") {
		t.Errorf("done line %q", lines[2])
	}
}

func TestJSONProgressEvents(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	a := PlanItem{Source: "/vmfs/volumes/ds/vm/a-flat.vmdk", Dest: "vm/a-flat.vmdk", Size: 4096}
	p := &ProgressTracker{Total: 4096, Display: &JSONProgress{W: &out}, Status: sinkAt(map[string]int64{a.Dest: 512})}
	p.Event(Progress{Item: a, Index: 1, Total: 1})
	p.Display.Update(p.View())
	p.Event(Progress{Item: a, Index: 1, Total: 1, Done: true, Result: &FileOutcome{Dest: a.Dest, Size: 4096, Verified: true, HostHashes: map[string]string{"md5": "x"}}})
	var evs []JSONEvent
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev JSONEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		evs = append(evs, ev)
	}
	if len(evs) != 3 || evs[0].Event != "file.started" || evs[0].Source != a.Source ||
		evs[1].Event != "progress" || evs[1].Progress.Files[0].Received != 512 ||
		evs[2].Event != "file.finished" || !evs[2].Result.Verified || evs[2].Result.HostHashes["md5"] != "x" {
		t.Errorf("events %+v", evs)
	}
}

// TestProgressAfterResume: bytes an earlier run verified count as done but
// not toward the rate, so the ETA is this run's, not years.
func TestProgressAfterResume(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	big := PlanItem{Dest: "vm/big-flat.vmdk", Size: 8 << 30}
	small := PlanItem{Dest: "vm/small-flat.vmdk", Size: 100 << 20}
	p := &ProgressTracker{Total: big.Size + small.Size, Display: &LineProgress{W: &out},
		Status: func() nfssink.Status {
			return nfssink.Status{Receiving: []nfssink.FileStatus{{Path: small.Dest, Received: 50 << 20}}}
		}}
	p.Event(Progress{Item: big, Index: 1, Total: 2, Done: true, Result: &FileOutcome{Dest: big.Dest, Size: big.Size, Verified: true, Resumed: true}})
	p.Event(Progress{Item: small, Index: 2, Total: 2})
	p.mu.Lock()
	p.start = time.Now().Add(-5 * time.Second)
	p.mu.Unlock()
	v := p.View()
	// 50 MiB copied in 5 s: the 50 MiB left take 5 s.
	if v.Resumed != big.Size || v.ETA.Round(time.Second) != 5*time.Second {
		t.Errorf("after a resume: resumed %d, ETA %s, want 5s", v.Resumed, v.ETA)
	}
	if !strings.Contains(out.String(), "verified by an earlier run") {
		t.Errorf("the resumed file's line: %q", out.String())
	}
}

// TestProgressKeepsBytesWhileFinalizing: once a copy is written the sink
// stops listing the file while it re-reads it at rest; the file in flight
// keeps what arrived, and neither it nor the total goes back to zero.
func TestProgressKeepsBytesWhileFinalizing(t *testing.T) {
	t.Parallel()
	a := PlanItem{Dest: "vm/a-flat.vmdk", Size: 256 << 20}
	listed := true
	p := &ProgressTracker{Total: a.Size, Status: func() nfssink.Status {
		if !listed {
			return nfssink.Status{}
		}
		return nfssink.Status{Receiving: []nfssink.FileStatus{{Path: a.Dest, Received: 224 << 20, RateBps: 1 << 20}}}
	}}
	p.Event(Progress{Item: a, Index: 1, Total: 1})
	if v := p.View(); v.All != 224<<20 {
		t.Fatalf("while receiving: %+v", v)
	}
	listed = false
	v := p.View()
	if v.All != 224<<20 || len(v.Files) != 1 || v.Files[0].Received != 224<<20 {
		t.Errorf("while the sink re-reads it: %+v, want 224 MiB kept", v)
	}
	p.Event(Progress{Item: a, Index: 1, Total: 1, Done: true, Result: &FileOutcome{Dest: a.Dest, Size: a.Size, Verified: true}})
	if v := p.View(); v.All != a.Size || len(v.Files) != 0 {
		t.Errorf("after it finished: %+v", v)
	}
}

// TestProgressNamesFleetHosts: in a fleet run two hosts' files are in
// flight at once, each numbered within its own host's plan; every line
// and event names the host, so "[2/5]" is never ambiguous.
func TestProgressNamesFleetHosts(t *testing.T) {
	t.Parallel()
	a := PlanItem{Dest: "shared/Web01/Web01-flat.vmdk", Size: 1 << 20}
	b := PlanItem{Dest: "esx02-local/App/App-flat.vmdk", Size: 1 << 20}
	var lines, events strings.Builder
	status := sinkAt(map[string]int64{a.Dest: 512, b.Dest: 256})
	for _, d := range []ProgressDisplay{&LineProgress{W: &lines}, &JSONProgress{W: &events}} {
		p := &ProgressTracker{Total: 2 << 20, Display: d, Status: status}
		p.Event(Progress{Item: a, Host: "esx01", Index: 2, Total: 5})
		p.Event(Progress{Item: b, Host: "esx02", Index: 2, Total: 3})
		d.Update(p.View())
		p.Event(Progress{Item: a, Host: "esx01", Index: 2, Total: 5, Done: true, Result: &FileOutcome{Dest: a.Dest, Size: a.Size, Verified: true}})
	}
	for _, want := range []string{"esx01 " + a.Dest + ":", "esx02 " + b.Dest + ":", "[esx01 2/5] " + a.Dest} {
		if !strings.Contains(lines.String(), want) {
			t.Errorf("no %q in the progress lines:\n%s", want, lines.String())
		}
	}
	hosts := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(events.String()), "\n") {
		var ev JSONEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		switch ev.Event {
		case "file.started", "file.finished":
			hosts[ev.Event+" "+ev.Dest] = ev.Host
		case "progress":
			for _, f := range ev.Progress.Files {
				hosts["progress "+f.Dest] = f.Host
			}
		}
	}
	for key, want := range map[string]string{"file.started " + a.Dest: "esx01", "file.started " + b.Dest: "esx02",
		"progress " + b.Dest: "esx02", "file.finished " + a.Dest: "esx01"} {
		if hosts[key] != want {
			t.Errorf("%s: host %q, want %q (all: %v)", key, hosts[key], want, hosts)
		}
	}
	// One host: the lines stay as they were.
	if got := (Progress{Index: 2, Total: 5}).Counter(); got != "[2/5]" {
		t.Errorf("single-host counter %q", got)
	}
}
