package orchestrator

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/esxsink/esxsink/nfssink"
)

func TestLineProgressFromSinkCounters(t *testing.T) {
	var out bytes.Buffer
	it := PlanItem{Dest: "vm/vm-flat.vmdk", Size: 100 << 20}
	p := &LineProgress{W: &out, Total: 200 << 20, Status: func() nfssink.Status {
		return nfssink.Status{Receiving: []nfssink.FileStatus{{Path: "vm/vm-flat.vmdk", Received: 50 << 20, RateBps: 10 << 20}}}
	}}
	p.Event(Progress{Item: it, Index: 1, Total: 2})
	p.start = time.Now().Add(-5 * time.Second)
	p.tick()
	p.Event(Progress{Item: it, Index: 1, Total: 2, Done: true, Result: &FileResult{Dest: it.Dest, Size: it.Size, Verified: true}})
	p.tick() // nothing in flight: silent
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines: %q", lines)
	}
	if !strings.Contains(lines[0], "52428800 of 104857600 bytes, 10.0 MiB/s") || !strings.Contains(lines[0], "ETA 15s") {
		t.Errorf("progress line %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "[1/2] vm/vm-flat.vmdk  104857600 bytes") || !strings.HasSuffix(lines[1], "verified") {
		t.Errorf("done line %q", lines[1])
	}
}
