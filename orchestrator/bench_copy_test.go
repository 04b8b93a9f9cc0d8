package orchestrator

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/esxsim"
	"github.com/esxsink/esxsink/internal/benchtable"
	"github.com/esxsink/esxsink/internal/peer"
)

// collectBenchDisk collects the bench VM from e and returns the disk's
// result (the largest file).
func collectBenchDisk(b *testing.B, e *simEnv, mod func(*CollectOptions)) FileOutcome {
	b.Helper()
	ctx := context.Background()
	inv, err := Discover(ctx, e.runner, e.conn.Addr(), quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	vms, err := SelectVMs(inv, []string{"Bench"}, false, false)
	if err != nil {
		b.Fatal(err)
	}
	o := CollectOptions{Runner: e.runner, Log: e.log, Sink: e.sink, Host: e.conn.Addr(), SinkHost: "127.0.0.1",
		Logger: quietLogger(), UnmountBackoff: 50 * time.Millisecond}
	if mod != nil {
		mod(&o)
	}
	rep, err := Collect(ctx, MakePlan(vms, PlanOptions{SinkFree: -1}), o)
	if err != nil {
		b.Fatalf("collect: %v", err)
	}
	var disk FileOutcome
	for _, f := range rep.Files {
		if f.Size > disk.Size {
			disk = f
		}
	}
	if !disk.Verified {
		b.Fatalf("the disk did not verify: %s", disk.Error)
	}
	return disk
}

// manualSequence is the procedure examiners type by hand, timed on a
// fresh simulator and sink: mount, md5sum of the source, dd onto the
// mount, md5sum of the copy read back over NFS, unmount.
func manualSequence(b *testing.B, size string, settle func()) (time.Duration, string) {
	b.Helper()
	e := startSim(b, fmt.Sprintf(benchDiskLab, size))
	ctx := context.Background()
	src := "/vmfs/volumes/datastore1/Bench/Bench-flat.vmdk"
	run := func(cmd string) string {
		res, err := e.runner.Run(ctx, cmd)
		if err != nil || res.ExitStatus != 0 {
			b.Fatalf("%s: %v %s", cmd, err, res.Stderr)
		}
		return string(res.Stdout)
	}
	add, _ := esxi.CmdNASAdd("127.0.0.1", "/esxsink", "manual")
	rm, _ := esxi.CmdNASRemove("manual")
	hashSrc, _ := esxi.CmdHash(esxi.MD5, src)
	hashCopy, _ := esxi.CmdHash(esxi.MD5, "/vmfs/volumes/manual/Bench-flat.vmdk")
	copyCmd, _ := esxi.CmdCopy(src, "/vmfs/volumes/manual/Bench-flat.vmdk", 1<<20, esxi.CopyOptions{})
	run(add)
	settle()
	start := time.Now()
	before := run(hashSrc)
	run(copyCmd)
	after := run(hashCopy)
	d := time.Since(start)
	run(rm)
	if strings.Fields(before)[0] != strings.Fields(after)[0] {
		b.Fatalf("manual sequence: source md5 %s, copy %s", before, after)
	}
	return d, strings.Fields(before)[0]
}

// BenchmarkSinglePassVsTwoPassVsManual times one simulated disk
// (ESXSINK_BENCH_DISK, default 4GiB) four ways in the same run: collect's
// single pass (dd | tee | md5sum + sha256sum on the host, the sink
// hashing as it receives, then its at-rest re-read), the same with the
// host computing md5 only (--host-hash md5), --verify two-pass (the
// source's md5 first, through the copy's own dd read), and the manual
// sequence (md5sum, dd, md5sum of the copy over NFS). Each is the best
// of two interleaved runs; the ratios go to the bench table.
func BenchmarkSinglePassVsTwoPassVsManual(b *testing.B) {
	size := os.Getenv("ESXSINK_BENCH_DISK")
	if size == "" {
		size = "4GiB"
	}
	lab := fmt.Sprintf(benchDiskLab, size)
	best := map[string]time.Duration{}
	keep := func(name string, d time.Duration) {
		if best[name] == 0 || d < best[name] {
			best[name] = d
		}
	}
	diskSize, err := esxsim.ParseSize(size)
	if err != nil {
		b.Fatal(err)
	}
	bytes := int64(diskSize)
	scratch := b.TempDir()
	// Each contender starts from the same page-cache state (see
	// peer.SettleDisk): the simulator is started first, as it writes
	// its disk image, then the disk is settled, then the timed run.
	settled := func(e *simEnv) *simEnv {
		peer.SettleDisk(b, scratch, bytes)
		return e
	}
	var singleCPU time.Duration
	for range 2 * b.N {
		e := settled(startSim(b, lab))
		cpu0 := peer.ProcCPU(b, os.Getpid())
		s := collectBenchDisk(b, e, nil)
		if cpu := peer.ProcCPU(b, os.Getpid()) - cpu0; singleCPU == 0 || cpu < singleCPU {
			singleCPU = cpu
		}
		md5Only := collectBenchDisk(b, settled(startSim(b, lab)), func(o *CollectOptions) { o.HostHashes = []esxi.HashAlg{esxi.MD5} })
		t := collectBenchDisk(b, settled(startSim(b, lab)), func(o *CollectOptions) { o.TwoPass = true })
		m, md5 := manualSequence(b, size, func() { peer.SettleDisk(b, scratch, bytes) })
		if s.HostHashes["md5"] != md5 || t.HostHashes["md5"] != md5 || md5Only.HostHashes["md5"] != md5 {
			b.Fatalf("the runs disagree: single %s, host md5 only %s, two-pass %s, manual %s", s.HostHashes["md5"], md5Only.HostHashes["md5"], t.HostHashes["md5"], md5)
		}
		keep("single", s.Duration)
		keep("md5only", md5Only.Duration)
		keep("two", t.Duration)
		keep("manual", m)
	}
	manual := best["manual"]
	sec := func(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
	manualCol := "manual " + sec(manual)
	note := "simulated " + size + " disk, best of 2 interleaved runs each"
	benchtable.Record(b, benchtable.Row{Figure: "collect single pass vs manual md5sum, dd, md5sum", Ours: sec(best["single"]), Peer: manualCol,
		Ratio: best["single"].Seconds() / manual.Seconds(), Target: 0.35, AtMost: true, Note: note})
	// The simulated host, the sink and the at-rest pass all run on this
	// machine's cores: their CPU time spread over every core is the
	// least time a single pass can take here.
	floor := singleCPU.Seconds() / float64(runtime.NumCPU())
	benchtable.Record(b, benchtable.Row{Figure: "collect single pass, its CPU time (host + sink + at rest) over all cores, vs manual",
		Ours: fmt.Sprintf("%.1f s CPU / %d cores = %.1f s", singleCPU.Seconds(), runtime.NumCPU(), floor), Peer: manualCol,
		Ratio: floor / manual.Seconds(), Info: true, Note: "the lowest single-pass ratio this machine allows"})
	benchtable.Record(b, benchtable.Row{Figure: "collect single pass, --host-hash md5, vs manual", Ours: sec(best["md5only"]), Peer: manualCol,
		Ratio: best["md5only"].Seconds() / manual.Seconds(), Info: true, Note: note})
	benchtable.Record(b, benchtable.Row{Figure: "collect --verify two-pass vs manual", Ours: sec(best["two"]), Peer: manualCol,
		Ratio: best["two"].Seconds() / manual.Seconds(), Info: true, Note: note})
}
