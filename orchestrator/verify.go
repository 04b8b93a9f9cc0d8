package orchestrator

import (
	"fmt"
	"strings"

	"github.com/esxsink/esxsink/esxi"
)

// verifyCopy finalizes fr.Dest on the sink and compares what every side
// saw: the host's hashes (fr.HostHashes, of the algorithms in hashes), the
// sink's hashes on arrival, the hashes at rest, the pre-copy md5 of a
// two-pass run (fr.PreHash) and the planned size. Every transport ends
// here, so a file verifies under the same rules however it travelled.
func (c *collector) verifyCopy(fr FileResult, hashes []esxi.HashAlg) FileResult {
	it := fr.Item
	expected := it.Size
	if it.Live || it.SizeApprox {
		expected = -1 // a live log may grow while it is copied
	}
	fin, err := c.o.Sink.Finalize(fr.Dest, "api", expected, true)
	if err != nil {
		fr.Error = fmt.Sprintf("finalize %s on the sink: %v", fr.Dest, err)
		return fr
	}
	fr.Size, fr.SinkHashes, fr.AtRest = fin.Size, fin.Hashes, fin.AtRest
	var bad []string
	for _, a := range hashes {
		h := fr.HostHashes[string(a)]
		if s, ok := fin.Hashes[string(a)]; ok && s != h {
			bad = append(bad, fmt.Sprintf("%s host %s sink %s", a, h, s))
		}
		if s, ok := fin.AtRest[string(a)]; ok && s != h {
			bad = append(bad, fmt.Sprintf("%s host %s at rest %s", a, h, s))
		}
	}
	if fin.Hashes[string(esxi.MD5)] == "" && fin.Hashes[string(esxi.SHA256)] == "" {
		bad = append(bad, "the sink computed neither md5 nor sha256")
	}
	if len(fin.AtRest) == 0 {
		bad = append(bad, "the sink did not re-read the file at rest")
	}
	if pre := fr.PreHash; pre != "" && pre != fr.HostHashes[string(esxi.MD5)] {
		bad = append(bad, fmt.Sprintf("the source changed between the two reads: md5 %s before the copy, %s during it", pre, fr.HostHashes[string(esxi.MD5)]))
	}
	if len(fin.Anomalies) > 0 {
		bad = append(bad, "sink anomalies: "+strings.Join(fin.Anomalies, "; "))
	}
	if !it.Live && !it.SizeApprox && fin.Size != it.Size {
		bad = append(bad, fmt.Sprintf("size %d, planned %d", fin.Size, it.Size))
	}
	if len(bad) > 0 {
		fr.Error = "mismatch: " + strings.Join(bad, "; ")
		return fr
	}
	fr.Verified = true
	return fr
}
