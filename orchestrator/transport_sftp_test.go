package orchestrator

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/esxsim"
	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/internal/sinktest"
	"github.com/esxsink/esxsink/nfssink"
)

// startSimSFTP is startSim for the sftp transport: the sink binds no port
// at all (StartReceiver), and the host is told of a portmapper port where
// nothing listens, so an NFS mount could not succeed even by mistake.
func startSimSFTP(t *testing.T, scenario string) *simEnv {
	t.Helper()
	return startSimWith(t, scenario, TransportSFTP)
}

// startSimWith starts a host from scenario and a sink for transport, and
// connects to the host; it takes a testing.TB for benchmarks.
func startSimWith(tb testing.TB, scenario, transport string) *simEnv {
	tb.Helper()
	sc := loadSimScenario(tb, scenario)
	e := newSimCase(tb)
	if transport == TransportNFS {
		ts := sinktest.Start(tb, sinktest.Options{CaseDir: e.caseDir, Log: e.log})
		e.sink, e.pmPort = ts.Sink, ts.PortmapPort
	} else {
		var err error
		e.sink, err = nfssink.New(nfssink.Config{
			EvidenceDir: hashlog.EvidenceDir(e.caseDir), StateDir: filepath.Join(e.caseDir, ".esxsink"),
			Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, IdleFinalize: -1, Log: e.log, Logger: quietLogger(),
		})
		if err != nil {
			tb.Fatal(err)
		}
		if err := e.sink.StartReceiver(context.Background()); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { e.sink.Close("test done") })
		e.pmPort = sinktest.FreePort(tb)
	}
	e.startHost(tb, sc, esxsim.Config{PortmapPort: e.pmPort, MountTimeout: 2 * time.Second})
	return e
}

func withSFTP(o *CollectOptions) { o.Transport = TransportSFTP; o.SinkHost = "" }

// assertNoNFS checks that the sftp run never touched NFS on the host: no
// esxcfg-nas command, no NFS event in vmkernel.log, no mount left, no
// mount record, and that every command run is custody-logged.
func assertNoNFS(t *testing.T, e *simEnv) {
	t.Helper()
	if st := e.host.State(); len(st.Mounts) != 0 {
		t.Errorf("mounts on the host: %+v", st.Mounts)
	}
	for _, c := range e.host.Footprint() {
		if strings.Contains(c.Line, "esxcfg-nas -a") || strings.Contains(c.Line, "nfs add") {
			t.Errorf("the sftp run mounted: %q", c.Line)
		}
	}
	for _, l := range e.host.KernelLog() {
		if strings.Contains(strings.ToLower(l), "nfs") {
			t.Errorf("NFS activity in vmkernel.log: %s", l)
		}
	}
	recs, findings, err := hashlog.ReadLog(hashlog.LogPath(e.caseDir))
	if err != nil || len(findings) != 0 {
		t.Fatalf("custody log: %v %v", err, findings)
	}
	var note bool
	for _, r := range recs {
		switch r.Type {
		case custody.TypeNASMounted, custody.TypeNASUnmounted:
			t.Errorf("%s record in an sftp run: %s", r.Type, r.Data)
		case custody.TypeAcquisitionNote:
			note = note || strings.Contains(string(r.Data), "transport sftp")
		}
	}
	if !note {
		t.Error("no custody record says the run used the sftp transport")
	}
}

// full.yaml collected over NFS and over SFTP from two identical hosts:
// the same files verify, with the same MD5 and SHA-256, and the sftp run
// never mounts anything.
func TestCollectFullLabSFTPMatchesNFS(t *testing.T) {
	en := startSim(t, "examples/lab/full.yaml")
	es := startSimSFTP(t, "examples/lab/full.yaml")
	_, repN, err := collectAll(t, en, nil, true, true)
	if err != nil {
		t.Fatalf("nfs collect: %v", err)
	}
	before := snapCounts(es)
	_, repS, err := collectOpts(t, es, nil, true, true, withSFTP)
	if err != nil {
		for _, f := range repS.Files {
			if !f.Verified {
				t.Errorf("sftp %s: %s", f.Item.Dest, f.Error)
			}
		}
		t.Fatalf("sftp collect: %v", err)
	}
	type sums struct{ md5, sha256 string }
	byDest := func(r *Outcome) map[string]sums {
		m := map[string]sums{}
		for _, f := range r.Files {
			if f.Verified {
				m[f.Item.Dest] = sums{f.SinkHashes["md5"], f.AtRest["sha256"]}
			}
		}
		return m
	}
	n, s := byDest(repN), byDest(repS)
	if len(n) == 0 || len(n) != len(s) {
		t.Errorf("verified files: nfs %d, sftp %d", len(n), len(s))
	}
	same := 0
	for dest, h := range n {
		switch hs, ok := s[dest]; {
		case !ok:
			t.Errorf("%s verified over nfs, not over sftp", dest)
		case h != hs:
			t.Errorf("%s: nfs md5 %s sha256 %s, sftp md5 %s sha256 %s", dest, h.md5, h.sha256, hs.md5, hs.sha256)
		case h.md5 == "" || h.sha256 == "":
			t.Errorf("%s: missing hashes %+v", dest, h)
		default:
			same++
		}
	}
	for dest := range s {
		if _, ok := n[dest]; !ok {
			t.Errorf("%s verified over sftp, not over nfs", dest)
		}
	}
	for _, f := range repS.Files {
		if f.Verified && (f.HostHashes["md5"] != f.SinkHashes["md5"] || f.HostHashes["sha256"] != f.SinkHashes["sha256"]) {
			t.Errorf("sftp %s: host %v sink %v", f.Item.Dest, f.HostHashes, f.SinkHashes)
		}
	}
	t.Logf("%d files verified with identical md5 and sha256 over nfs and sftp", same)
	assertClean(t, es, before)
	assertNoNFS(t, es)
}

// A bad sector fails the file over SFTP with a message sending the examiner to the NFS transport; the other
// files verify.
func TestCollectSFTPReadErrorFails(t *testing.T) {
	e := startSimSFTP(t, smallLab)
	disk := "/vmfs/volumes/datastore1/Unused server/Unused server-flat.vmdk"
	if err := e.host.AddFault(esxsim.Fault{Kind: esxsim.FaultBadSectors, Path: disk, Offset: 1 << 20, Length: 512}); err != nil {
		t.Fatal(err)
	}
	_, rep, err := collectOpts(t, e, []string{"Unused server"}, false, false, func(o *CollectOptions) { withSFTP(o); o.Retries = 0 })
	if err == nil {
		t.Fatal("collect over a bad sector succeeded")
	}
	var failed, verified int
	for _, f := range rep.Files {
		if f.Verified {
			verified++
			continue
		}
		failed++
		if f.Item.Source != disk {
			t.Errorf("%s failed: %s", f.Item.Source, f.Error)
			continue
		}
		t.Logf("failure reported: %s", f.Error)
		// The host's hashes read the bad sector too and fail.
		for _, want := range []string{"input/output error", "md5sum failed too (exit 1", "sha256sum failed too (exit 1", "--transport nfs", "zero-fill"} {
			if !strings.Contains(f.Error, want) {
				t.Errorf("failure message lacks %q:\n%s", want, f.Error)
			}
		}
	}
	if failed != 1 || verified == 0 {
		t.Errorf("%d failed, %d verified: %+v", failed, verified, rep.Files)
	}
	if e.host.FaultsFired()[esxsim.FaultBadSectors] == 0 {
		t.Error("the bad sector never fired")
	}
	assertNoNFS(t, e)
}

// A case started over NFS resumes over SFTP: the records are the same, so
// what NFS verified is skipped, the rest is copied over SFTP and verifies,
// and the whole case re-verifies at rest.
func TestCollectSFTPResumesNFSCase(t *testing.T) {
	e := startSim(t, smallLab)
	if _, _, err := collectAll(t, e, []string{"Unused server"}, false, false); err != nil {
		t.Fatalf("nfs run: %v", err)
	}
	done, err := VerifiedInCase(e.caseDir, e.conn.Addr())
	flat := "/vmfs/volumes/datastore1/Unused server/Unused server-flat.vmdk"
	if err != nil || done[flat].Size != 4<<20 {
		t.Fatalf("verified in case: %v %+v", err, done)
	}
	_, rep, err := collectOpts(t, e, []string{"Ubuntu", "Unused server"}, false, false, func(o *CollectOptions) {
		withSFTP(o)
		o.Resume = done
	})
	if err != nil {
		t.Fatalf("sftp run: %v", err)
	}
	var resumed, copied int
	for _, f := range rep.Files {
		switch {
		case !f.Verified:
			t.Errorf("%s: %s", f.Item.Dest, f.Error)
		case f.Resumed:
			resumed++
			if f.Item.VMName != "Unused server" {
				t.Errorf("%s resumed but never collected", f.Item.Source)
			}
		default:
			copied++
		}
	}
	if resumed == 0 || copied == 0 {
		t.Errorf("%d resumed, %d copied over sftp", resumed, copied)
	}
	vr, err := hashlog.VerifyCase(context.Background(), e.caseDir)
	if err != nil || !vr.OK() {
		t.Fatalf("verify case: %v %+v", err, vr)
	}
	assertClean(t, e, nil)
}

// Cancelling while a disk streams stops the run at once with the
// cancellation, removes our snapshot and closes the SFTP session.
func TestCollectSFTPCancelMidCopy(t *testing.T) {
	e := startSimSFTP(t, smallLab)
	disk := "/vmfs/volumes/datastore1/Ubuntu/Ubuntu-flat.vmdk"
	if err := e.host.AddFault(esxsim.Fault{Kind: esxsim.FaultSlowIO, Path: disk, Rate: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inv, err := Discover(ctx, e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	vms, err := SelectVMs(inv, []string{"Ubuntu"}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	var started bool
	var cancelledAt time.Time
	opened := 1 // the check before the first copy
	_, err = Collect(ctx, MakePlan(vms, PlanOptions{SinkFree: -1}), CollectOptions{
		Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(), Logger: quietLogger(), Transport: TransportSFTP, CleanupTimeout: 30 * time.Second,
		Progress: func(p Progress) {
			if !p.Done {
				opened++ // each copy opens one SFTP session
			}
			if !p.Done && p.Item.Source == disk {
				started = true
				time.AfterFunc(300*time.Millisecond, func() { cancelledAt = time.Now(); cancel() })
			}
		},
	})
	if !started {
		t.Fatal("the disk copy never started")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("collect after cancel: %v", err)
	}
	assertClean(t, e, nil)
	// The disk takes 8 s to read: the run must not wait for the reads.
	if d := time.Since(cancelledAt); d > 4*time.Second {
		t.Errorf("collect returned %v after the cancel", d)
	}
	// Every SFTP session was closed, the interrupted one too (the host
	// logs a session when it ends).
	deadline := time.Now().Add(2 * time.Second)
	for sftpSessionsEnded(e) < opened && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := sftpSessionsEnded(e); n != opened {
		t.Errorf("%d SFTP sessions ended, %d opened", n, opened)
	}
}

// sftpSessionsEnded counts the SFTP sessions the host saw end.
func sftpSessionsEnded(e *simEnv) int {
	n := 0
	for _, c := range e.host.Footprint() {
		if c.Kind == "subsystem" && c.Line == "sftp" {
			n++
		}
	}
	return n
}
