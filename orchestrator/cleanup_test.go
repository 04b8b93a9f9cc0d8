package orchestrator

import (
	"context"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/esxi"
)

// A run cut off without cleanup leaves our snapshot and mount; cleanup
// finds exactly those by name and undoes them, leaving the owner's
// snapshots alone.
func TestCleanupLeftovers(t *testing.T) {
	e := startSim(t, "examples/lab/full.yaml")
	before := snapCounts(e)
	ctx := context.Background()
	run := func(cmd string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.runner.Run(ctx, cmd)
		if err != nil || res.ExitStatus != 0 {
			t.Fatalf("%s: %v %s %s", cmd, err, res.Stdout, res.Stderr)
		}
	}
	// What an interrupted run leaves, plus a look-alike that is not ours.
	run(esxi.CmdNASAdd("127.0.0.1", "/esxsink", "esxsink-0badc0de"))
	run(esxi.CmdSnapshotCreate(13, "esxsink-notours", "the owner's", false, false))
	run(esxi.CmdSnapshotCreate(13, "esxsink-0badc0de-vm13", snapshotDescription("0badc0de"), false, false))
	// Its stop file and a copy's FIFO in /tmp; a regular file named like a
	// FIFO of ours and a look-alike stop file stay.
	for _, cmd := range []string{": > /tmp/esxsink-0badc0de.stop", "mkfifo /tmp/esxsink-0badc0de-1.fifo", ": > /tmp/esxsink-0badc0de-2.fifo", ": > /tmp/esxsink-notours.stop"} {
		run(cmd, nil)
	}
	// A new run refuses to mount the share a second time, and says why:
	// the message, naming the leftover datastore to detach, is what the
	// examiner acts on, so it is compared as text.
	if _, err := collectWith(ctx, t, e, []string{"Orphan-2019"}, nil); err == nil || !strings.Contains(err.Error(), `already mounts the sink 127.0.0.1:/esxsink as datastore "esxsink-0badc0de"`) {
		t.Errorf("second mount of the share: %v", err)
	}
	inv, err := Discover(ctx, e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	lefts, err := FindLeftovers(ctx, e.runner, inv)
	if err != nil {
		t.Fatal(err)
	}
	if len(lefts) != 5 {
		t.Fatalf("leftovers: %+v", lefts)
	}
	out, err := UndoLeftovers(ctx, lefts, CleanupOptions{Runner: e.runner, Log: e.log, Host: e.conn.Addr(), UnmountBackoff: 50e6})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Undone) != 4 || len(out.Refused) != 0 || len(out.LeftAlone) != 1 {
		t.Errorf("cleanup outcome %+v", out)
	}
	for p, stays := range map[string]bool{"/tmp/esxsink-0badc0de.stop": false, "/tmp/esxsink-0badc0de-1.fifo": false,
		"/tmp/esxsink-0badc0de-2.fifo": true, "/tmp/esxsink-notours.stop": true} {
		if _, _, code := e.host.Exec(ctx, "[ -e "+esxi.Quote(p)+" ]"); (code == 0) != stays {
			t.Errorf("%s: there %v, want %v", p, code == 0, stays)
		}
	}
	st := e.host.State()
	if len(st.Mounts) != 0 {
		t.Errorf("mounts: %+v", st.Mounts)
	}
	for _, vm := range st.VMs {
		want := before[vm.ID]
		if vm.ID == 13 {
			want++ // the look-alike stays
		}
		if len(vm.Snapshots) != want {
			t.Errorf("VM %s: %d snapshots, want %d", vm.Name, len(vm.Snapshots), want)
		}
	}
}

// A second runner on the same case folder numbers its outputs after the
// first one's instead of failing on existing files.
func TestRunnerContinuesNumbering(t *testing.T) {
	t.Parallel()
	e := startSim(t, smallLab)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		r, err := NewRunner(e.conn, nil, e.runner.outDir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Run(ctx, esxi.CmdVMwareVersion()); err != nil {
			t.Fatalf("runner %d: %v", i+1, err)
		}
	}
	if r, _ := NewRunner(e.conn, nil, e.runner.outDir); r.seq != 2 {
		t.Errorf("next runner starts after %d, want 2", r.seq)
	}
}
