package orchestrator

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// benchDiskLab is one powered-off VM whose single disk dominates the
// copy; ESXSINK_BENCH_DISK changes its size (default 1GiB).
const benchDiskLab = `
host: {hostname: esx-bench, version: 8.0.2, build: "22380479", user: root, password: "Bench-Lab-1!"}
datastores: [{name: datastore1, type: VMFS-6}]
vms:
  - {id: 1, name: Bench, power: "off", memory_mb: 16, logs: 1, disks: [{size: %s, kind: thick}]}
`

// collectDisk collects the bench VM over transport from a fresh simulator
// and sink and returns the disk's result.
func collectDisk(b *testing.B, size, transport string) FileOutcome {
	b.Helper()
	e := startSimWith(b, fmt.Sprintf(benchDiskLab, size), transport)
	return collectBenchDisk(b, e, func(o *CollectOptions) { o.Transport = transport })
}

// BenchmarkTransportSFTPvsNFS copies the same simulated disk with each
// transport in the same run and reports both rates and their ratio. The
// time is the disk's whole copy: for sftp the stream and the host's
// md5sum and sha256sum sessions, which read the source again, for nfs
// the single dd | tee | md5sum pass; both end with the sink's at-rest
// check.
func BenchmarkTransportSFTPvsNFS(b *testing.B) {
	size := os.Getenv("ESXSINK_BENCH_DISK")
	if size == "" {
		size = "1GiB"
	}
	var nfsT, sftpT time.Duration
	var bytes int64
	for range b.N {
		n := collectDisk(b, size, TransportNFS)
		s := collectDisk(b, size, TransportSFTP)
		if n.AtRest["sha256"] != s.AtRest["sha256"] {
			b.Fatalf("the transports disagree: nfs %v, sftp %v", n.AtRest, s.AtRest)
		}
		nfsT += n.Duration
		sftpT += s.Duration
		bytes += n.Size
	}
	mbs := func(d time.Duration) float64 { return float64(bytes) / 1e6 / d.Seconds() }
	b.ReportMetric(mbs(nfsT), "nfs_MB/s")
	b.ReportMetric(mbs(sftpT), "sftp_MB/s")
	b.ReportMetric(mbs(sftpT)/mbs(nfsT), "sftp/nfs")
	b.Logf("disk %s: nfs %.1f MB/s, sftp %.1f MB/s, ratio sftp/nfs %.2f", size, mbs(nfsT), mbs(sftpT), mbs(sftpT)/mbs(nfsT))
}
