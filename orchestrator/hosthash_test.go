package orchestrator

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/hashlog"
)

// HostHashes = md5: the host runs md5sum and no sha256sum, every file
// still verifies (host md5 = sink md5, sink sha256 = at rest), and the
// custody log says which hashes the host was asked for.
func TestCollectHostHashMD5Only(t *testing.T) {
	e := startSim(t, smallLab)
	_, rep, err := collectOpts(t, e, nil, true, false, func(o *CollectOptions) { o.HostHashes = []esxi.HashAlg{esxi.MD5} })
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	for _, f := range rep.Files {
		if !f.Verified || len(f.HostHashes) != 1 || f.HostHashes["md5"] != f.SinkHashes["md5"] || f.SinkHashes["sha256"] == "" || f.SinkHashes["sha256"] != f.AtRest["sha256"] {
			t.Errorf("%s: verified %v host %v sink %v at rest %v", f.Item.Dest, f.Verified, f.HostHashes, f.SinkHashes, f.AtRest)
		}
	}
	var md5Runs int
	for _, c := range e.host.Footprint() {
		if strings.HasPrefix(c.Line, "for c in ") {
			continue // the probe asks which tools exist
		}
		if strings.Contains(c.Line, "sha256sum") {
			t.Errorf("the host was asked for sha256: %q", c.Line)
		}
		if strings.Contains(c.Line, "md5sum") {
			md5Runs++
		}
	}
	if md5Runs < len(rep.Files) {
		t.Errorf("md5sum ran %d times for %d files", md5Runs, len(rep.Files))
	}
	recs, _, err := hashlog.ReadLog(hashlog.LogPath(e.caseDir))
	if err != nil {
		t.Fatal(err)
	}
	var said bool
	for _, r := range recs {
		if r.Type == custody.TypeAcquisitionStarted {
			var s custody.Step
			json.Unmarshal(r.Data, &s)
			said = len(s.HostHashAlgorithms) == 1 && s.HostHashAlgorithms[0] == "md5"
		}
	}
	if !said {
		t.Error("acquisition.started does not record host_hash_algorithms [md5]")
	}
}

func TestHostHashChoicesChecked(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		algs    []esxi.HashAlg
		twoPass bool
		ok      bool
	}{
		{nil, false, true},
		{[]esxi.HashAlg{esxi.MD5}, true, true},
		{[]esxi.HashAlg{esxi.SHA256}, false, true},
		{[]esxi.HashAlg{esxi.SHA256}, true, false}, // two-pass compares md5
		{[]esxi.HashAlg{esxi.SHA1}, false, false},  // the sink has no sha1 to agree with
		{[]esxi.HashAlg{"crc32"}, false, false},
	} {
		got, err := CollectOptions{HostHashes: c.algs, TwoPass: c.twoPass}.CheckHostHashes()
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrHostHash)) {
			t.Errorf("%v two-pass %v: %v %v", c.algs, c.twoPass, got, err)
		}
		if c.algs == nil && len(got) != 2 {
			t.Errorf("default host hashes %v, want md5 and sha256", got)
		}
	}
}
