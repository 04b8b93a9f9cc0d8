package orchestrator

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/esxi"
)

// probeChunk bounds the runs one probe command lists, so its command line
// stays far below the host's argument limit.
const probeChunk = 500

// rescue follows a copy in which dd reported read errors. dd zeroed each
// failed read unit whole (bs bytes in a part read at bs, one sector in a
// part read in sectors, such as a device's last MiB or a file's tail) and
// does not say where: rescue finds the failed units among the copy's
// all-zero ones by reading them again on the host, then the unreadable
// sectors within the failed blocks. When a block of bs failed, it copies
// the file again as the first copy read it but for those blocks, read
// sector by sector, so that only unreadable sectors are zeros (the first
// copy is superseded, kept and recorded); when only sector reads failed,
// the first copy is already exact. Either way the result lists the bad
// sectors, for every kind of source.
func (c *collector) rescue(ctx context.Context, it PlanItem, first FileOutcome) (FileOutcome, error) {
	bs := first.bs
	if bs <= esxi.SectorSize || bs%esxi.SectorSize != 0 {
		bs = 0 // no part is read in blocks larger than a sector
	}
	// The first copy read first.SizeAtStart bytes of a measured file, a
	// device to its end: the units to look at are in what arrived.
	size := first.SizeAtStart
	if !measured(it) {
		size = first.Size
	}
	zb, zs, err := c.zeroUnitsOf(ctx, first.Dest, first.read, bs, size)
	if err != nil {
		first.Error = fmt.Sprintf("find the zeroed blocks of %s: %v", first.Dest, err)
		first.Verified = false
		return first, nil
	}
	badRuns, err := c.probe(ctx, it.Source, bs, zb)
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
	// Sectors: the failed blocks' and the zeroed sectors of the parts
	// read in sectors, in runs, then 4 KiB runs, then single sectors.
	runs := zs
	per := max(bs/esxi.SectorSize, 1)
	for _, b := range blocks {
		runs = append(runs, esxi.BlockRun{First: b.First * per, Count: per})
	}
	sectors, err := c.badSectors(ctx, it.Source, runs)
	if err != nil {
		return first, err
	}
	bad := mergeSectors(sectors)
	if len(bad) == 0 {
		c.record(custody.TypeAcquisitionNote, custody.Step{VMID: it.VMID, VM: it.VMName, Source: it.Source, Dest: first.Dest,
			Note: fmt.Sprintf("dd reported %d read errors, but every zeroed block reads now: the errors did not recur; copying again", len(first.ReadErrors))})
		return c.copyOnce(ctx, it)
	}
	var list []string
	n := int64(0)
	for _, r := range bad {
		list = append(list, r.String())
		n += r.Count
	}
	if len(blocks) == 0 {
		// Only reads of single sectors failed: the copy has zeros in
		// those sectors and nowhere else already.
		first.BadSectors = bad
		c.record(custody.TypeAcquisitionNote, custody.Step{VMID: it.VMID, VM: it.VMName, Source: it.Source, Dest: first.Dest,
			Note: fmt.Sprintf("dd reported %d read errors in %s, all where it read sector by sector; %d unreadable sectors found: %s; only those sectors are zeros in the copy",
				len(first.ReadErrors), first.Dest, n, strings.Join(list, ", "))})
		return first, nil
	}
	var badBlocks []int64
	for _, b := range blocks {
		badBlocks = append(badBlocks, b.First)
	}
	again := it
	again.rescue = esxi.SplitBadBlocks(first.read, bs, badBlocks)
	fr, err := c.copyOnce(ctx, again)
	fr.BadSectors = bad
	note := fmt.Sprintf("dd reported %d read errors at bs=%d in %s; %d unreadable sectors found: %s; copied again to %s reading the %d failing blocks sector by sector, so only those sectors are zeros (the first copy is kept as %s)",
		len(first.ReadErrors), bs, first.Dest, n, strings.Join(list, ", "), fr.Dest, len(badBlocks), strings.Join(fr.Superseded, ", "))
	if it.Live {
		note += "; the source is live (a running VM's LUN): the second copy is a second live read, not the same moment as the first"
	}
	if got, want := int64(len(fr.ReadErrors)), expectedErrors(again.rescue, sectors, size); fr.Error == "" && got != want {
		note += fmt.Sprintf("; the second copy's dd reported %d errors, not %d: the disk is getting worse or recovering", got, want)
	}
	c.record(custody.TypeAcquisitionNote, custody.Step{VMID: it.VMID, VM: it.VMName, Source: it.Source, Dest: fr.Dest, Note: note})
	return fr, err
}

// badSectors narrows runs of sectors of src down to the unreadable
// sectors: each run is read once; of a failing run, 4 KiB runs, then
// single sectors.
func (c *collector) badSectors(ctx context.Context, src string, runs []esxi.BlockRun) ([]esxi.BlockRun, error) {
	failed, err := c.probe(ctx, src, esxi.SectorSize, runs)
	if err != nil {
		return nil, err
	}
	var small []esxi.BlockRun
	for _, r := range failed {
		for s := r.First; s < r.First+r.Count; s += 8 {
			small = append(small, esxi.BlockRun{First: s, Count: min(8, r.First+r.Count-s)})
		}
	}
	if small, err = c.probe(ctx, src, esxi.SectorSize, small); err != nil {
		return nil, err
	}
	var single []esxi.BlockRun
	for _, r := range small {
		for s := r.First; s < r.First+r.Count; s++ {
			single = append(single, esxi.BlockRun{First: s, Count: 1})
		}
	}
	if single, err = c.probe(ctx, src, esxi.SectorSize, single); err != nil {
		return nil, err
	}
	slices.SortFunc(single, func(a, b esxi.BlockRun) int { return cmp.Compare(a.First, b.First) })
	return slices.CompactFunc(single, func(a, b esxi.BlockRun) bool { return a.First == b.First }), nil
}

// expectedErrors is how many read errors dd reports reading the first
// size bytes in parts when the sectors are unreadable: one per sector
// read as a sector, one per byte of a sector read byte by byte.
func expectedErrors(parts []esxi.ReadPart, sectors []esxi.BlockRun, size int64) int64 {
	var n int64
	for _, s := range sectors {
		off := s.First * esxi.SectorSize
		for _, p := range parts {
			lo, hi := p.Skip*p.BS, size
			if p.Count >= 0 {
				hi = min(hi, (p.Skip+p.Count)*p.BS)
			}
			if off+esxi.SectorSize <= lo || off >= hi {
				continue
			}
			if p.BS >= esxi.SectorSize {
				n++
				break
			}
			n += min(off+esxi.SectorSize, hi) - max(off, lo)
		}
	}
	return n
}

// probe reads runs of src on the host and returns the runs that fail.
func (c *collector) probe(ctx context.Context, src string, bs int64, runs []esxi.BlockRun) ([]esxi.BlockRun, error) {
	var bad []esxi.BlockRun
	if bs <= 0 {
		return nil, nil
	}
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

// zeroUnitsOf is zeroUnits of the evidence file rel, read through the
// sink.
func (c *collector) zeroUnitsOf(ctx context.Context, rel string, parts []esxi.ReadPart, bs, size int64) (blocks, sectors []esxi.BlockRun, err error) {
	f, err := c.o.Sink.OpenEvidence(ctx, rel)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return zeroUnits(f, parts, bs, size)
}

// zeroUnits lists where conv=noerror,sync may have put a failed read in
// the first size bytes of f, which was read in parts
// (esxi.CopyParts; nil is one dd at bs to the end): the runs of all-zero
// blocks of the parts read at bs (blocks at bs), and the runs of all-zero
// sectors of the parts read in sectors or bytes (a device's last MiB, a
// file's tail; the last sector may be short). bs 0 means no part is read
// in blocks.
func zeroUnits(f io.ReadSeeker, parts []esxi.ReadPart, bs, size int64) (blocks, sectors []esxi.BlockRun, err error) {
	if len(parts) == 0 {
		parts = []esxi.ReadPart{{BS: max(bs, 1), Count: -1}}
	}
	zero := make([]byte, max(bs, esxi.SectorSize))
	buf := make([]byte, len(zero))
	pos := int64(-1)
	isZero := func(off, n int64) (bool, error) {
		if off != pos {
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				return false, fmt.Errorf("offset %d: %w", off, err)
			}
		}
		if _, err := io.ReadFull(f, buf[:n]); err != nil {
			pos = -1
			return false, fmt.Errorf("offset %d: %w", off, err)
		}
		pos = off + n
		return bytes.Equal(buf[:n], zero[:n]), nil
	}
	add := func(runs []esxi.BlockRun, i int64) []esxi.BlockRun {
		if n := len(runs); n > 0 && runs[n-1].First+runs[n-1].Count == i {
			runs[n-1].Count++
			return runs
		}
		if n := len(runs); n > 0 && runs[n-1].First+runs[n-1].Count > i {
			return runs // a sector two byte-parts share
		}
		return append(runs, esxi.BlockRun{First: i, Count: 1})
	}
	for _, pt := range parts {
		lo, hi := pt.Skip*pt.BS, size
		if pt.Count >= 0 {
			hi = min(hi, (pt.Skip+pt.Count)*pt.BS)
		}
		if pt.BS > esxi.SectorSize && pt.BS == bs {
			for b := lo / bs; (b+1)*bs <= hi; b++ {
				z, err := isZero(b*bs, bs)
				if err != nil {
					return nil, nil, err
				}
				if z {
					blocks = add(blocks, b)
				}
			}
			continue
		}
		for s := lo / esxi.SectorSize; s*esxi.SectorSize < hi; s++ {
			from, to := max(s*esxi.SectorSize, lo), min((s+1)*esxi.SectorSize, hi)
			z, err := isZero(from, to-from)
			if err != nil {
				return nil, nil, err
			}
			if z {
				sectors = add(sectors, s)
			}
		}
	}
	return blocks, sectors, nil
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
