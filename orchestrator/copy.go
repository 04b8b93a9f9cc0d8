package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/esxsink/esxsink/esxi"
)

// hostHashes are computed on the host in the copy's single pass, when the
// host has the tools (mkfifo for the second hash).
var hostHashes = []esxi.HashAlg{esxi.MD5, esxi.SHA256}

// fallbackHashes is the single hash used when the host lacks a tool the
// two-hash pipeline needs.
var fallbackHashes = []esxi.HashAlg{esxi.MD5}

// copyVerified copies one file and verifies it, retrying a mismatch. The
// error is for what stops the whole run (cancellation, a lost connection);
// a file that does not verify is a failed FileResult.
func (c *collector) copyVerified(ctx context.Context, it PlanItem, idx, total int) error {
	start := time.Now()
	if c.o.Progress != nil {
		c.o.Progress(Progress{Item: it, Index: idx, Total: total, Started: start})
	}
	var fr FileResult
	var fatal error
	for attempt := 1; attempt <= c.o.Retries+1; attempt++ {
		fr, fatal = c.copyOnce(ctx, it)
		fr.Attempts = attempt
		if fr.Verified || fatal != nil {
			break
		}
		c.logger.Warn("file did not verify", "file", it.Source, "attempt", attempt, "err", fr.Error)
	}
	fr.Duration = time.Since(start)
	rec := StepRecord{VMID: it.VMID, VM: it.VMName, Source: it.Source, Dest: fr.Dest, Size: fr.Size,
		Host1: fr.HostHashes, Sink: fr.SinkHashes, AtRest: fr.AtRest, Attempt: fr.Attempts, Error: fr.Error,
		ReadErrors: fr.ReadErrors}
	if fr.Verified {
		c.record(TypeFileVerified, rec)
	} else {
		c.record(TypeFileFailed, rec)
	}
	c.addResult(fr)
	if c.o.Progress != nil {
		c.o.Progress(Progress{Item: it, Index: idx, Total: total, Started: start, Done: true, Result: &fr})
	}
	return fatal
}

// copyOnce runs the single-pass copy and compares host, sink and at-rest
// hashes.
func (c *collector) copyOnce(ctx context.Context, it PlanItem) (FileResult, error) {
	// The sink keeps a finalized file read-only: a retry, or a second run
	// into the same case, goes next to it, and what is there stays as it
	// was received.
	fr := FileResult{Item: it, Dest: c.freeDest(it.Dest)}
	fifo, hashes := c.copyTools()
	dst := "/vmfs/volumes/" + c.label + "/" + fr.Dest
	pre := ""
	if c.o.TwoPass {
		var err error
		if pre, err = c.hashSource(ctx, it.Source); err != nil {
			fr.Error = err.Error()
			if ctx.Err() != nil {
				return fr, fmt.Errorf("hash %s on %s interrupted: %w", it.Source, c.o.Host, ctx.Err())
			}
			return fr, nil
		}
		fr.PreHash = pre
	}
	bs := esxi.CopyBlockSize(it.Size, c.o.BlockSize)
	if it.SizeApprox {
		// The real size is only known to be whole sectors: a larger block
		// could pad the last one and grow the image.
		bs = 512
	}
	cmd, err := esxi.CmdCopy(it.Source, dst, bs, esxi.CopyOptions{Hashes: hashes, FIFO: fifo})
	if err != nil {
		fr.Error = err.Error()
		return fr, nil
	}
	res, err := c.o.Runner.Run(ctx, cmd)
	if err != nil {
		fr.Error = fmt.Sprintf("copy %s: %v", it.Source, err)
		if rm, rerr := esxi.CmdRemoveFIFO(fifo); rerr == nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			_, _ = c.o.Runner.Run(cctx, rm)
			cancel()
		}
		if ctx.Err() != nil {
			return fr, fmt.Errorf("copy %s from %s interrupted: %w", it.Source, c.o.Host, ctx.Err())
		}
		return fr, fmt.Errorf("copy %s from %s: %w", it.Source, c.o.Host, err)
	}
	if res.ExitStatus != 0 && len(hashes) > 1 && errors.Is(esxi.Classify(string(res.Stderr)), esxi.ErrCommandNotFound) {
		// The tool check failed before anything was read: hash once.
		c.mu.Lock()
		first := len(c.hashes) > 1
		c.hashes = fallbackHashes
		c.mu.Unlock()
		if first {
			c.record(TypeNote, StepRecord{Note: "the host lacks a tool for two hashes in one pass (" + clip(strings.TrimSpace(string(res.Stderr))) + "): the host computes md5 only; the sink still computes all its hashes"})
		}
		return c.copyOnce(ctx, it)
	}
	if res.ExitStatus != 0 {
		msg := strings.TrimSpace(string(res.Stderr))
		if cerr := esxi.Classify(msg); cerr != nil {
			msg = cerr.Error() + ": " + msg
		}
		fr.Error = fmt.Sprintf("copy of %s exited with status %d: %s", it.Source, res.ExitStatus, clip(msg))
		return fr, nil
	}
	if dd, err := esxi.ParseDDStatus(string(res.Stderr)); err == nil && len(dd.Errors) > 0 {
		// conv=noerror,sync wrote zeros for each unreadable block, and
		// the hashes cover those zeros on both sides.
		fr.ReadErrors = dd.Errors
	}
	hh, err := esxi.CopyHashes(string(res.Stdout), hashes)
	if err != nil {
		fr.Error = fmt.Sprintf("read the host's hashes of %s: %v", it.Source, err)
		return fr, nil
	}
	fr.HostHashes = map[string]string{}
	for a, h := range hh {
		fr.HostHashes[string(a)] = h
	}
	expected := it.Size
	if it.Live || it.SizeApprox {
		expected = -1 // a live log may grow while it is copied
	}
	fin, err := c.o.Sink.Finalize(fr.Dest, "api", expected, true)
	if err != nil {
		fr.Error = fmt.Sprintf("finalize %s on the sink: %v", fr.Dest, err)
		return fr, nil
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
	if pre != "" && pre != fr.HostHashes[string(esxi.MD5)] {
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
		return fr, nil
	}
	fr.Verified = true
	return fr, nil
}

// copyTools returns a FIFO name of its own for the next copy and the
// hashes the host computes.
func (c *collector) copyTools() (fifo string, hashes []esxi.HashAlg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fifoN++
	if c.hashes == nil {
		c.hashes = hostHashes
	}
	return fmt.Sprintf("/tmp/esxsink-%s-%d.fifo", c.o.RunID, c.fifoN), c.hashes
}

// hashSource is the first read of --verify two-pass: the source's md5 on
// the host before it is copied.
func (c *collector) hashSource(ctx context.Context, src string) (string, error) {
	cmd, err := esxi.CmdHash(esxi.MD5, src)
	if err != nil {
		return "", err
	}
	res, err := c.o.Runner.Run(ctx, cmd)
	if err != nil {
		return "", fmt.Errorf("hash %s on %s: %w", src, c.o.Host, err)
	}
	if res.ExitStatus != 0 {
		return "", fmt.Errorf("hash %s on %s exited with status %d: %s", src, c.o.Host, res.ExitStatus, clip(strings.TrimSpace(string(res.Stderr))))
	}
	h, err := esxi.ParseHash(string(res.Stdout), esxi.MD5)
	if err != nil {
		return "", fmt.Errorf("read the host's md5 of %s: %w", src, err)
	}
	return h, nil
}

// freeDest returns dest, or dest.attemptN for the first N >= 2 that does
// not exist in the evidence folder yet.
func (c *collector) freeDest(dest string) string {
	d := dest
	for n := 2; ; n++ {
		if _, err := os.Lstat(filepath.Join(c.o.EvidenceDir, filepath.FromSlash(d))); errors.Is(err, os.ErrNotExist) {
			return d
		}
		d = fmt.Sprintf("%s.attempt%d", dest, n)
	}
}
