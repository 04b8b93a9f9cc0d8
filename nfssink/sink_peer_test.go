package nfssink

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/hashlog"

	"github.com/esxsink/esxsink/digest"
	"github.com/esxsink/esxsink/internal/peer"
)

// TestNFSCpCopiesAndHashes is the headline: libnfs's nfs-ls lists
// the export and nfs-cp copies a 256 MiB random file in; the sink's hashes
// equal the source's.
func TestNFSCpCopiesAndHashes(t *testing.T) {
	t.Parallel()
	cp := nfsCp(t)
	ls := peer.Require(t, "nfs-ls")
	ts := newTestSink(t, nil)
	size := int64(256 << 20)
	if testing.Short() {
		size = 8 << 20
	}
	src := randomFile(t, size+12345)
	run(t, cp, src, ts.url("disk-flat.vmdk"))

	res, err := ts.Finalize(context.Background(), "disk-flat.vmdk", "api", size+12345, true)
	if err != nil {
		t.Fatal(err)
	}
	want, err := digest.File(context.Background(), src, []string{"md5", "sha256"}, digest.DefaultPieceSize)
	if err != nil {
		t.Fatal(err)
	}
	if !hashlog.FinalizedResult(res).Equal(want) || res.Hashes["md5"] != want.Sums["md5"] || res.Hashes["sha256"] != want.Sums["sha256"] {
		t.Fatalf("sink hashes %v, source %v", res.Hashes, want.Sums)
	}
	if len(hashlog.FinalizedResult(res).BadPieces(want)) != 0 || len(res.Anomalies) != 0 || res.FromDisk {
		t.Fatalf("unexpected: pieces differ %v, anomalies %v, from disk %v", hashlog.FinalizedResult(res).BadPieces(want), res.Anomalies, res.FromDisk)
	}
	if !atRestMatches(res, want.Sums) {
		t.Fatalf("at-rest hash missing or wrong: %+v", res.AtRest)
	}
	out := run(t, ls, strings.TrimSuffix(ts.url(""), "/"+"?")) // list the export root
	if !strings.Contains(out, "disk-flat.vmdk") {
		t.Fatalf("nfs-ls does not list the copied file:\n%s", out)
	}
	recs := ts.log.of(custody.TypeFileFinalized)
	if len(recs) != 1 {
		t.Fatalf("%d finalized records, want 1", len(recs))
	}
	var rec custody.FileFinalized
	json.Unmarshal(recs[0].Data, &rec)
	if rec.Hashes["sha256"] != want.Sums["sha256"] || rec.Size != size+12345 {
		t.Fatalf("custody record %+v does not match", rec)
	}
	got, _ := os.ReadFile(filepath.Join(ts.evidence, "disk-flat.vmdk"))
	if int64(len(got)) != size+12345 {
		t.Fatalf("file on disk has %d bytes", len(got))
	}
}
