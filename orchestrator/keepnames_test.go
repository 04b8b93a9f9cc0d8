package orchestrator

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxsim"
	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/vmdk"
)

// keepLab has one powered-off VM whose 16 MiB disk is read slowly enough
// for a run to be interrupted in the middle of it.
const keepLab = `
host:
  hostname: esx-keep
  version: 8.0.2
  build: "22380479"
  user: root
  password: "Keep-Lab-1!"
datastores:
  - name: datastore1
    type: VMFS-6
vms:
  - id: 2
    name: Mail server
    guest_os: windows2019srvNext_64Guest
    power: "off"
    memory_mb: 16
    logs: 1
    disks:
      - {size: 16MiB, kind: thick}
`

const keepFlat = "/vmfs/volumes/datastore1/Mail server/Mail server-flat.vmdk"

// Whatever cut the first copy of a disk short — Ctrl-C in the middle of
// it (then --resume), the sink lost in the middle of it (a retry on the
// mount made again), or unreadable sectors that dd zero-filled a whole
// block around (the rescue's second copy) — the case ends with the disk under
// its own name, the earlier attempt kept in the superseded area and
// listed, the collected descriptor converting to exactly the host's
// disk, and esxsink verify finding the case complete.
func TestEarlierAttemptsKeepTheHostsNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		// first runs the first collect, which must leave the disk
		// unverified or rescued.
		first func(t *testing.T, e *simEnv)
		// resume runs a second collect with --resume.
		resume bool
		// zeros are the sectors the host cannot read.
		zeros [2]int64
	}{
		{name: "interrupted in the middle of the disk", resume: true, first: func(t *testing.T, e *simEnv) {
			if err := e.host.AddFault(esxsim.Fault{Kind: esxsim.FaultSlowIO, Path: keepFlat, Rate: 8 << 20}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := collectKeep(ctx, t, e, nil, func(p Progress) {
				if !p.Done && p.Item.Source == keepFlat {
					go cancelWhenReceived(ctx, e, p.Item.Dest, 2<<20, cancel)
				}
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("first run: %v, want it interrupted", err)
			}
			e.host.ClearFaults(esxsim.FaultSlowIO)
		}},
		// The run mounts the sink again and copies the disk again: the cut
		// copy is moved aside, the new one takes the name.
		{name: "sink lost in the middle of the disk", first: func(t *testing.T, e *simEnv) {
			if err := e.host.AddFault(esxsim.Fault{Kind: esxsim.FaultSinkUnreachable, AfterBytes: 5 << 20}); err != nil {
				t.Fatal(err)
			}
			if _, err := collectKeep(context.Background(), t, e, nil, nil); err != nil {
				t.Fatalf("run with the sink lost and mounted again: %v", err)
			}
		}},
		{name: "zero-filled first attempt", zeros: [2]int64{9 << 20 / 512, 8}, first: func(t *testing.T, e *simEnv) {
			if err := e.host.AddFault(esxsim.Fault{Kind: esxsim.FaultBadSectors, Path: keepFlat, Offset: 9 << 20, Length: 4 << 10}); err != nil {
				t.Fatal(err)
			}
			if _, err := collectKeep(context.Background(), t, e, nil, nil); err != nil {
				t.Fatalf("rescued run: %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startSim(t, keepLab)
			want, err := e.host.ReadFile(keepFlat)
			if err != nil {
				t.Fatal(err)
			}
			clear(want[tc.zeros[0]*512 : (tc.zeros[0]+tc.zeros[1])*512])
			tc.first(t, e)
			if tc.resume {
				done, err := VerifiedInCase(e.caseDir, e.conn.Addr())
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := done[keepFlat]; ok {
					t.Fatal("the cut copy counts as verified")
				}
				if _, err := collectKeep(context.Background(), t, e, done, nil); err != nil {
					t.Fatalf("--resume: %v", err)
				}
			}
			assertKeptNames(t, e, want)
		})
	}
}

func collectKeep(ctx context.Context, t *testing.T, e *simEnv, resume map[string]Verified, progress func(Progress)) (*Outcome, error) {
	t.Helper()
	inv, err := Discover(context.Background(), e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	vms, err := SelectVMs(inv, []string{"Mail server"}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	return Collect(ctx, MakePlan(vms, PlanOptions{SinkFree: -1, Datastores: inv.Datastores}), CollectOptions{
		Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(), SinkHost: "127.0.0.1",
		// A stopped copy ends within one run of dd (esxi.StopChunk): the
		// unmount's retries wait for it.
		Logger: quietLogger(), UnmountBackoff: 300 * time.Millisecond,
		Resume: resume, Progress: progress,
	})
}

// cancelWhenReceived cancels once the sink has received at least n bytes
// of rel: the run is cut in the middle of that file, whatever the
// machine's speed. The sink's byte counters are what progress shows too.
func cancelWhenReceived(ctx context.Context, e *simEnv, rel string, n int64, cancel func()) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, f := range e.sink.Status().Receiving {
			if f.Path == rel && f.Received >= n {
				cancel()
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// assertKeptNames checks the case after the run that completed it.
func assertKeptNames(t *testing.T, e *simEnv, want []byte) {
	t.Helper()
	ev := hashlog.EvidenceDir(e.caseDir)
	rep, err := hashlog.VerifyCase(context.Background(), e.caseDir)
	if err != nil {
		t.Fatal(err)
	}
	if v := rep.Verdict(); v != custody.Complete {
		t.Errorf("verify: %s: %+v", v, rep.Assessment.Problems)
	}
	var flat, desc string
	var superseded []string
	for _, f := range rep.Assessment.Files {
		switch {
		case f.Source == keepFlat && f.Verdict == custody.Verified:
			flat = f.Path
		case f.Source == keepFlat && f.Verdict == custody.Superseded:
			superseded = append(superseded, f.Path)
		case strings.HasSuffix(f.Source, "/Mail server.vmdk") && f.Verdict.Good():
			desc = f.Path
		case f.Verdict != custody.Verified && f.Verdict != custody.Superseded:
			t.Errorf("%s (%s): %s %s", f.Path, f.Source, f.Verdict, f.Reason)
		}
	}
	if flat == "" || strings.Contains(flat, "attempt") || !strings.HasSuffix(flat, "Mail server/Mail server-flat.vmdk") {
		t.Fatalf("the verified extent is at %q, want the host's name", flat)
	}
	if len(superseded) == 0 {
		t.Error("no earlier attempt is listed as superseded")
	}
	for _, p := range superseded {
		if !strings.HasPrefix(p, custody.SupersededFolder+"/") {
			t.Errorf("earlier attempt kept at %s, not in the superseded area", p)
		}
		if _, err := os.Stat(filepath.Join(ev, filepath.FromSlash(p))); err != nil {
			t.Errorf("earlier attempt not kept: %v", err)
		}
	}
	d, err := vmdk.Open(filepath.Join(ev, filepath.FromSlash(desc)), nil)
	if err != nil {
		t.Fatalf("open the collected descriptor %q: %v", desc, err)
	}
	defer d.Close()
	res, err := vmdk.Convert(context.Background(), d, filepath.Join(t.TempDir(), "disk.raw"), vmdk.ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(want)
	if got := res.Digest.Sums["md5"]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("converted disk md5 %s, the host's disk %x", got, sum)
	}
}
