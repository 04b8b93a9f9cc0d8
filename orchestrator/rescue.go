package orchestrator

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/esxi"
)

// probeChunk bounds the runs one probe command lists, so its command line
// stays far below the host's argument limit.
const probeChunk = 500

// rescue follows a copy in which dd reported read errors. dd zeroed each
// failed block whole (bs bytes) and does not say where: rescue finds the
// failed blocks among the copy's all-zero blocks by reading them again on
// the host, then the unreadable sectors within them, and copies the file
// again reading only those blocks sector by sector, so that only
// unreadable sectors are zeros. The first copy stays on the sink as it was
// received; the result is the second copy's, with the bad sectors listed.
func (c *collector) rescue(ctx context.Context, it PlanItem, first FileOutcome) (FileOutcome, error) {
	bs := esxi.CopyBlockSize(0, c.o.BlockSize)
	if bs <= esxi.SectorSize || bs%esxi.SectorSize != 0 {
		return first, nil // already read sector by sector
	}
	// The first copy read first.SizeAtStart bytes: the blocks to look at
	// and the parts to read again are of that size, not the plan's.
	size := first.SizeAtStart
	zero, err := zeroRuns(filepath.Join(c.o.EvidenceDir, filepath.FromSlash(first.Dest)), bs, size/bs)
	if err != nil {
		first.Error = fmt.Sprintf("find the zeroed blocks of %s: %v", first.Dest, err)
		first.Verified = false
		return first, nil
	}
	badRuns, err := c.probe(ctx, it.Source, bs, zero)
	if err != nil {
		return first, err
	}
	// A failed run of one block is a bad block; longer runs are probed
	// again block by block.
	var blocks, single []esxi.BlockRun
	for _, r := range badRuns {
		if r.Count == 1 {
			blocks = append(blocks, r)
			continue
		}
		for b := r.First; b < r.First+r.Count; b++ {
			single = append(single, esxi.BlockRun{First: b, Count: 1})
		}
	}
	more, err := c.probe(ctx, it.Source, bs, single)
	if err != nil {
		return first, err
	}
	blocks = append(blocks, more...)
	slices.SortFunc(blocks, func(a, b esxi.BlockRun) int { return cmp.Compare(a.First, b.First) })
	if len(blocks) == 0 {
		c.record(custody.TypeAcquisitionNote, custody.Step{VMID: it.VMID, VM: it.VMName, Source: it.Source, Dest: first.Dest,
			Note: fmt.Sprintf("dd reported %d read errors, but every zeroed block reads now: the errors did not recur; copying again", len(first.ReadErrors))})
		return c.copyOnce(ctx, it)
	}
	// Sectors: 4 KiB runs first, then single sectors in the runs that fail.
	per := bs / esxi.SectorSize
	var runs []esxi.BlockRun
	for _, b := range blocks {
		for s := b.First * per; s < (b.First+1)*per; s += 8 {
			runs = append(runs, esxi.BlockRun{First: s, Count: min(8, (b.First+1)*per-s)})
		}
	}
	if runs, err = c.probe(ctx, it.Source, esxi.SectorSize, runs); err != nil {
		return first, err
	}
	var sectors []esxi.BlockRun
	for _, r := range runs {
		for s := r.First; s < r.First+r.Count; s++ {
			sectors = append(sectors, esxi.BlockRun{First: s, Count: 1})
		}
	}
	if sectors, err = c.probe(ctx, it.Source, esxi.SectorSize, sectors); err != nil {
		return first, err
	}
	bad := mergeSectors(sectors)
	var badBlocks []int64
	for _, b := range blocks {
		badBlocks = append(badBlocks, b.First)
	}
	again := it
	again.rescue = esxi.RescueParts(size, bs, badBlocks)
	fr, err := c.copyOnce(ctx, again)
	fr.BadSectors = bad
	var list []string
	n := int64(0)
	for _, r := range bad {
		list = append(list, r.String())
		n += r.Count
	}
	note := fmt.Sprintf("dd reported %d read errors at bs=%d in %s; %d unreadable sectors found: %s; copied again to %s reading the %d failing blocks sector by sector, so only those sectors are zeros (the first copy is kept as %s)",
		len(first.ReadErrors), bs, first.Dest, n, strings.Join(list, ", "), fr.Dest, len(badBlocks), strings.Join(fr.Superseded, ", "))
	if got := int64(len(fr.ReadErrors)); fr.Error == "" && got != n {
		note += fmt.Sprintf("; the second copy's dd reported %d errors, not %d: the disk is getting worse or recovering", got, n)
	}
	c.record(custody.TypeAcquisitionNote, custody.Step{VMID: it.VMID, VM: it.VMName, Source: it.Source, Dest: fr.Dest, Note: note})
	return fr, err
}

// probe reads runs of src on the host and returns the runs that fail.
func (c *collector) probe(ctx context.Context, src string, bs int64, runs []esxi.BlockRun) ([]esxi.BlockRun, error) {
	var bad []esxi.BlockRun
	for len(runs) > 0 {
		chunk := runs[:min(probeChunk, len(runs))]
		runs = runs[len(chunk):]
		cmd, err := esxi.CmdProbeBlocks(src, bs, chunk)
		if err != nil {
			return nil, err
		}
		res, err := c.o.Runner.Run(ctx, cmd)
		if err != nil {
			return nil, fmt.Errorf("re-read %s on %s to find its bad sectors: %w", src, c.o.Host, err)
		}
		firsts, err := esxi.ParseProbeBlocks(string(res.Stdout))
		if err != nil {
			return nil, fmt.Errorf("re-read %s on %s to find its bad sectors: %w", src, c.o.Host, err)
		}
		byFirst := map[int64]esxi.BlockRun{}
		for _, r := range chunk {
			byFirst[r.First] = r
		}
		for _, f := range firsts {
			if r, ok := byFirst[f]; ok {
				bad = append(bad, r)
			}
		}
	}
	return bad, nil
}

// zeroRuns lists the runs of all-zero bs blocks among the first blocks of
// the file at p: where conv=noerror,sync may have put a failed read.
func zeroRuns(p string, bs, blocks int64) ([]esxi.BlockRun, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, bs)
	zero := make([]byte, bs)
	var runs []esxi.BlockRun
	for b := int64(0); b < blocks; b++ {
		if _, err := io.ReadFull(f, buf); err != nil {
			return nil, fmt.Errorf("block %d: %w", b, err)
		}
		if !bytes.Equal(buf, zero) {
			continue
		}
		if n := len(runs); n > 0 && runs[n-1].First+runs[n-1].Count == b {
			runs[n-1].Count++
		} else {
			runs = append(runs, esxi.BlockRun{First: b, Count: 1})
		}
	}
	return runs, nil
}

// mergeSectors joins single bad sectors into ranges.
func mergeSectors(sectors []esxi.BlockRun) []custody.SectorRange {
	var out []custody.SectorRange
	for _, s := range sectors {
		if n := len(out); n > 0 && out[n-1].First+out[n-1].Count == s.First {
			out[n-1].Count += s.Count
			continue
		}
		out = append(out, custody.SectorRange{First: s.First, Count: s.Count})
	}
	return out
}
