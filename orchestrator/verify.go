package orchestrator

import (
	"context"
	"fmt"
	"strings"

	"github.com/esxsink/esxsink/esxi"
)

// verifyCopy finalizes fr.Dest on the sink and judges the copy. It
// compares what every side saw: the host's hashes (fr.HostHashes, of the
// algorithms in hashes), the sink's hashes on arrival, the hashes at
// rest and the pre-copy md5 of a two-pass run (fr.PreHash); and whether
// the source stayed whole and unchanged (fr.SizeAtStart, fr.SizeAtEnd
// and what arrived). Every transport ends here, so a file is judged by
// the same rules however it travelled:
//   - hashes that disagree: failed;
//   - whole and unchanged: verified;
//   - changed, but live (the plan could not freeze it): copied live;
//   - changed although frozen: failed.
func (c *collector) verifyCopy(ctx context.Context, fr FileOutcome, hashes []esxi.HashAlg) FileOutcome {
	it := fr.Item
	// A frozen file must arrive at its measured size, and the sink
	// records it when it does not; a live one may have been cut short
	// by its writer, which sizeChange reports.
	expected := fr.SizeAtStart
	if it.Live || !measured(it) {
		expected = -1
	}
	fin, err := c.o.Sink.Finalize(ctx, fr.Dest, "api", expected, true)
	if err != nil {
		fr.Error = fmt.Sprintf("finalize %s on the sink: %v", fr.Dest, err)
		return fr
	}
	fr.Size, fr.SinkHashes, fr.AtRest = fin.Size, fin.Hashes, fin.AtRest
	bad := hashDisagreements(fr, fin.Hashes, fin.AtRest, hashes)
	if len(fin.Anomalies) > 0 {
		bad = append(bad, "sink anomalies: "+strings.Join(fin.Anomalies, "; "))
	}
	change := sizeChange(fr)
	switch {
	case len(bad) > 0 && change != "" && !it.Live:
		fr.changed = true
		fr.Error = change + "; " + frozenAdvice + "; also a mismatch: " + strings.Join(bad, "; ")
	case len(bad) > 0 && change != "":
		fr.Error = "mismatch: " + strings.Join(bad, "; ") + "; the file is live and " + change
	case len(bad) > 0:
		fr.Error = "mismatch: " + strings.Join(bad, "; ")
	case change == "":
		fr.Verified = true
	case it.Live:
		fr.CopiedLive, fr.LiveReason = true, change+
			fmt.Sprintf("; the first %d bytes were copied and hash alike on the host, on arrival and at rest, but they are not the whole file", fr.Size)
	default:
		fr.changed = true
		fr.Error = change + "; " + frozenAdvice
	}
	return fr
}

// hashDisagreements lists where the host's hashes differ from the sink's
// on arrival or at rest, or from the two-pass pre-copy md5, and what
// the sink failed to compute.
func hashDisagreements(fr FileOutcome, arrival, atRest map[string]string, hashes []esxi.HashAlg) []string {
	var bad []string
	for _, a := range hashes {
		h := fr.HostHashes[string(a)]
		if s, ok := arrival[string(a)]; ok && s != h {
			bad = append(bad, fmt.Sprintf("%s host %s sink %s", a, h, s))
		}
		if s, ok := atRest[string(a)]; ok && s != h {
			bad = append(bad, fmt.Sprintf("%s host %s at rest %s", a, h, s))
		}
	}
	if arrival[string(esxi.MD5)] == "" && arrival[string(esxi.SHA256)] == "" {
		bad = append(bad, "the sink computed neither md5 nor sha256")
	}
	if len(atRest) == 0 {
		bad = append(bad, "the sink did not re-read the file at rest")
	}
	if pre := fr.PreHash; pre != "" && pre != fr.HostHashes[string(esxi.MD5)] {
		msg := fmt.Sprintf("the source changed between the two reads: md5 %s before the copy, %s during it", pre, fr.HostHashes[string(esxi.MD5)])
		if a, b := len(fr.PreReadErrors), len(fr.ReadErrors); a != b {
			msg += fmt.Sprintf(" (or its unreadable sectors did: %d read errors in the first read, %d in the copy)", a, b)
		}
		bad = append(bad, msg)
	}
	return bad
}
