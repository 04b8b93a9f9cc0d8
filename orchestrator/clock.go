package orchestrator

import (
	"context"
	"fmt"
	"time"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxi"
)

// ReadHostClock reads the host's clock and compares it with ours at the
// midpoint of the command's round trip; the round trip bounds the error.
// A failure is in the reading's Error, never a reason to stop a run.
func ReadHostClock(ctx context.Context, r Commander, host, runID, when string) custody.HostClock {
	hc := custody.HostClock{Host: host, RunID: runID, When: when}
	before := time.Now()
	res, err := r.Run(ctx, esxi.CmdDateUTC())
	after := time.Now()
	mid := before.Add(after.Sub(before) / 2).UTC()
	hc.WorkstationAt, hc.RoundTripMS = mid.Format(time.RFC3339Nano), after.Sub(before).Milliseconds()
	switch {
	case err != nil:
		hc.Error = err.Error()
	case res.ExitStatus != 0:
		hc.Error = fmt.Sprintf("date exited with status %d: %s", res.ExitStatus, clip(string(res.Stderr)))
	default:
		t, perr := esxi.ParseDateUTC(string(res.Stdout))
		if perr != nil {
			hc.Error = perr.Error()
			break
		}
		hc.HostTime = t.Format(time.RFC3339)
		// The host prints whole seconds: the offset is as exact as that.
		hc.OffsetSeconds = int64(t.Sub(mid.Truncate(time.Second)).Round(time.Second) / time.Second)
	}
	return hc
}

// RecordHostClock reads the host's clock and appends it to log.
func RecordHostClock(ctx context.Context, r Commander, log Recorder, host, runID, when string) custody.HostClock {
	hc := ReadHostClock(ctx, r, host, runID, when)
	if log != nil {
		_, _ = log.Append(custody.TypeHostClock, hc)
	}
	return hc
}
