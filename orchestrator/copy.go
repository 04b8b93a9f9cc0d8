package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/esxi"
)

// defaultHostHashes are computed on the host in the copy's single pass,
// when the host has the tools (mkfifo for the second hash), unless
// CollectOptions.HostHashes chooses fewer.
var defaultHostHashes = []esxi.HashAlg{esxi.MD5, esxi.SHA256}

// HostHashChoices are the hashes a host may be asked for: those the sink
// also computes, so that each has a counterpart to agree with.
var HostHashChoices = []esxi.HashAlg{esxi.MD5, esxi.SHA256}

// ErrHostHash says CollectOptions.HostHashes asks for a hash the run
// cannot compare, or none that --verify two-pass's first read needs.
var ErrHostHash = errors.New("host hashes")

// CheckHostHashes validates o.HostHashes and returns the list to use
// (the default when empty), for Collect and for a command that checks
// its flags before it connects.
func (o CollectOptions) CheckHostHashes() ([]esxi.HashAlg, error) {
	if len(o.HostHashes) == 0 {
		return slices.Clone(defaultHostHashes), nil
	}
	var out []esxi.HashAlg
	for _, a := range o.HostHashes {
		if !slices.Contains(HostHashChoices, a) {
			return nil, fmt.Errorf("%w: %q is not one the sink also computes (choose from %v)", ErrHostHash, a, HostHashChoices)
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if o.TwoPass && !slices.Contains(out, esxi.MD5) {
		return nil, fmt.Errorf("%w: two-pass compares the source's md5 before the copy with the copy's, so the host must compute md5", ErrHostHash)
	}
	return out, nil
}

// fallbackHashes is the single hash used when the host lacks a tool the
// two-hash pipeline needs.
var fallbackHashes = []esxi.HashAlg{esxi.MD5}

// copyVerified copies one file and verifies it, retrying a mismatch. The
// error is for what stops the whole run (cancellation, a lost connection);
// a file that does not verify is a failed FileOutcome.
func (c *collector) copyVerified(ctx context.Context, it PlanItem, idx, total int) error {
	start := time.Now()
	if c.o.Progress != nil {
		c.o.Progress(Progress{Item: it, Index: idx, Total: total, Started: start})
	}
	if why := c.notFrozen(it); why != "" {
		fr := c.notStarted([]job{{item: it, idx: idx}}, errors.New(why))[0]
		if c.o.Progress != nil {
			// It was announced as started: a display must hear it end.
			c.o.Progress(Progress{Item: it, Index: idx, Total: total, Started: start, Done: true, Result: &fr})
		}
		return nil
	}
	var fr FileOutcome
	var fatal error
	var superseded []string
	for attempt := 1; attempt <= c.o.Retries+1; attempt++ {
		gen := c.mountGeneration()
		fr, fatal = c.copyOnce(ctx, it)
		fr.Attempts = attempt
		superseded = append(superseded, fr.Superseded...)
		// A file that changed while it was read would change again: a
		// second copy cannot make it whole, only hide the first.
		if fr.Verified || fr.CopiedLive || fr.changed || fatal != nil || c.notFrozen(it) != "" {
			break
		}
		c.logger.Warn("file did not verify", "file", it.Source, "attempt", attempt, "err", fr.Error)
		again, err := c.recoverSink(ctx, gen)
		if err != nil {
			fatal = err
			break
		}
		if again {
			// The sink was lost under this copy, not the file: the copy
			// on the mount made again does not use up a retry.
			attempt--
		}
	}
	if fatal == nil && len(fr.ReadErrors) > 0 && c.tr.zeroFills() && (!it.Live || fixedSize(it)) && !fr.changed {
		n := fr.Attempts
		fr, fatal = c.rescue(ctx, it, fr)
		fr.Attempts = n + 1
		superseded = append(superseded, fr.Superseded...)
	}
	fr.Superseded = superseded
	if fatal == nil && it.Method == MethodSnapshot {
		c.stillThere(context.WithoutCancel(ctx), it, &fr)
	}
	fr.Duration = time.Since(start)
	c.recordResult(fr)
	c.addResult(fr)
	if c.o.Progress != nil {
		c.o.Progress(Progress{Item: it, Index: idx, Total: total, Started: start, Done: true, Result: &fr})
	}
	return fatal
}

// recordResult writes fr's custody record: file.verified,
// file.copied_live (with what changed in its note) or file.failed.
func (c *collector) recordResult(fr FileOutcome) {
	it := fr.Item
	rec := custody.Step{VMID: it.VMID, VM: it.VMName, Source: it.Source, Dest: fr.Dest, Size: fr.Size,
		HostHashes: fr.HostHashes, SinkHashes: fr.SinkHashes, AtRest: fr.AtRest, Attempt: fr.Attempts, Error: fr.Error,
		ReadErrors: fr.ReadErrors, BadSectors: fr.BadSectors, Kind: it.Kind, Method: it.Method, Live: it.Live, Note: it.Note,
		SizeAtStart: fr.SizeAtStart, SizeAtEnd: fr.SizeAtEnd, Superseded: fr.Superseded}
	if fr.sized && fr.SizeAtStart != it.Size {
		// Not a failure: the file changed between the inventory and its
		// copy (a running VM's delta grows until our snapshot).
		rec.PlannedSize = it.Size
	}
	switch {
	case fr.Verified:
		c.record(custody.TypeFileVerified, rec)
	case fr.CopiedLive:
		rec.Note = strings.TrimPrefix(rec.Note+"; "+fr.LiveReason, "; ")
		c.record(custody.TypeFileCopiedLive, rec)
	default:
		c.record(custody.TypeFileFailed, rec)
	}
}

// copyOnce copies it once with the run's transport.
func (c *collector) copyOnce(ctx context.Context, it PlanItem) (FileOutcome, error) {
	return c.tr.copyOnce(ctx, c, it)
}

// copyOnceNFS runs the single-pass copy onto the mounted sink and
// compares host, sink and at-rest hashes.
func (c *collector) copyOnceNFS(ctx context.Context, it PlanItem) (FileOutcome, error) {
	fr := FileOutcome{Item: it, Dest: it.Dest}
	if !c.clearDest(&fr) {
		return fr, nil
	}
	fifo, hashes := c.copyTools()
	dst := esxi.VolumePath(c.label, fr.Dest)
	if done, err := c.sizeAtStart(ctx, &fr); done {
		return fr, err
	}
	bs, read := c.readOptions(it, fr.SizeAtStart)
	fr.bs, fr.read = bs, esxi.CopyParts(bs, read)
	if done, err := c.firstPass(ctx, &fr, func() (string, error) { return esxi.CmdHashRead(it.Source, bs, esxi.MD5, read) }); done {
		return fr, err
	}
	opts := read
	opts.Hashes, opts.FIFO = hashes, fifo
	cmd, err := esxi.CmdCopy(it.Source, dst, bs, opts)
	if err != nil {
		fr.Error = err.Error()
		return fr, nil
	}
	c.mu.Lock()
	c.copied = true
	c.mu.Unlock()
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
			c.record(custody.TypeAcquisitionNote, custody.Step{Note: "the host lacks a tool for two hashes in one pass (" + clip(strings.TrimSpace(string(res.Stderr))) + "): the host computes md5 only; the sink still computes all its hashes"})
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
	if done, err := c.sizeAtEnd(ctx, &fr); done {
		return fr, err
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
	return c.verifyCopy(ctx, fr, hashes), nil
}

// copyTools returns a FIFO name of its own for the next copy and the
// hashes the host computes.
func (c *collector) copyTools() (fifo string, hashes []esxi.HashAlg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fifoN++
	if c.hashes == nil {
		c.hashes = slices.Clone(c.o.HostHashes) // the collector may narrow its own
	}
	return fmt.Sprintf("/tmp/esxsink-%s-%d.fifo", c.o.RunID, c.fifoN), c.hashes
}

// readOptions says how the copy of it, measured at size bytes, reads its
// source on the host: the block size and the read part of CmdCopy's
// options (no hashes), which the two-pass first read uses too.
func (c *collector) readOptions(it PlanItem, size int64) (int64, esxi.CopyOptions) {
	// With the exact size, CmdCopy reads a tail bs does not divide in
	// small blocks, so an odd-sized log still copies at the full bs.
	bs := esxi.CopyBlockSize(0, c.o.BlockSize)
	o := esxi.CopyOptions{Size: size, Parts: it.rescue, StopFile: c.stopFile()}
	if it.SizeApprox {
		// A device's size is esxcli's, in whole MiB: all but the last
		// MiB it reports is read in full blocks, the rest in sectors to
		// its end, so the last block is never padded.
		o.Size = 0
		if o.Parts == nil {
			o.Parts = esxi.DeviceParts(it.Size, bs)
		}
	}
	return bs, o
}

// fixedSize reports whether it is a whole device (a LUN, a USB disk),
// whose size does not change while it is read, even live.
func fixedSize(it PlanItem) bool { return it.Kind == KindLUN || it.Kind == KindDevice }

// firstPass is --verify two-pass's first read: the source's md5 before
// the copy, in fr.PreHash, from the host command cmd builds (a read as
// the copy's, with its dd read errors in fr.PreReadErrors). done says
// the copy must not go on: the file failed (fr.Error), or the run stops
// (the error).
func (c *collector) firstPass(ctx context.Context, fr *FileOutcome, cmd func() (string, error)) (done bool, err error) {
	if !c.o.TwoPass {
		return false, nil
	}
	pre, err := c.hashSource(ctx, fr, cmd)
	if err != nil {
		fr.Error = err.Error()
		if ctx.Err() != nil {
			return true, fmt.Errorf("hash %s on %s interrupted: %w", fr.Item.Source, c.o.Host, ctx.Err())
		}
		return true, nil
	}
	fr.PreHash = pre
	return false, nil
}

// hashSource is the first read of --verify two-pass: the source's md5 on
// the host before it is copied, of the bytes the copy will read.
func (c *collector) hashSource(ctx context.Context, fr *FileOutcome, build func() (string, error)) (string, error) {
	src := fr.Item.Source
	cmd, err := build()
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
	if dd, err := esxi.ParseDDStatus(string(res.Stderr)); err == nil {
		fr.PreReadErrors = dd.Errors
	}
	return h, nil
}

// clearDest frees fr.Dest, the file's own path, for this copy: an earlier
// attempt there (a retry, a copy a resumed or repeated run replaces) is
// moved by the sink to its superseded area and recorded, never deleted
// and never written over, so the verified copy always has the host's
// name. false means the path could not be freed (fr.Error says why) and
// nothing was copied.
func (c *collector) clearDest(fr *FileOutcome) bool {
	moved, err := c.o.Sink.Supersede(fr.Dest, c.o.RunID, "a new copy of "+fr.Item.Source+" takes its path")
	if err != nil {
		fr.Error = fmt.Sprintf("move the earlier attempt at %s aside before copying %s again: %v", fr.Dest, fr.Item.Source, err)
		return false
	}
	if moved != nil {
		fr.Superseded = append(fr.Superseded, moved.To)
	}
	return true
}

// algNames are the algorithms' names, as records spell them.
func algNames(algs []esxi.HashAlg) []string {
	out := make([]string, len(algs))
	for i, a := range algs {
		out[i] = string(a)
	}
	return out
}
