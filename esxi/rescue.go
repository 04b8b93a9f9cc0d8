package esxi

import (
	"sort"
	"strconv"
	"strings"
)

// Reading around bad sectors. dd conv=noerror,sync turns a failed read into
// a block of zeros at its own offset, but the block is bs long: one bad
// sector in a 1 MiB read zeroes 2048 sectors, and dd does not say where.
// The orchestrator therefore (1) finds which blocks fail with
// [CmdProbeBlocks], (2) which sectors of those blocks fail, with the same
// command at 512 bytes, and (3) copies the file again as one stream read
// in [ReadPart]s, 512 bytes at a time only in the bad blocks
// ([RescueParts], CopyOptions.Parts), so only unreadable sectors are zeros.

// SectorSize is the unit of a disk read that can fail on its own.
const SectorSize = 512

// ReadPart is one dd run of a copy read as consecutive runs:
// dd bs=BS skip=Skip count=Count (Skip and Count in BS units). A negative
// Count in the last part reads to the end of the source.
type ReadPart struct {
	BS, Skip, Count int64
}

// RescueParts reads a size-byte file in bs blocks except the blocks in bad
// (block indexes at bs), which are read 512 bytes at a time. When bs does
// not divide size, the tail after the last whole block is read in 512-byte
// and then 1-byte blocks (skip counts in the block size, so that needs bs
// to be a multiple of 512): at most 511 one-byte reads instead of a whole
// copy at bs=1.
func RescueParts(size, bs int64, bad []int64) []ReadPart {
	blocks := size / bs
	bad = append([]int64(nil), bad...)
	sort.Slice(bad, func(i, j int) bool { return bad[i] < bad[j] })
	var parts []ReadPart
	next := int64(0)
	per := bs / SectorSize
	for _, b := range bad {
		if b < next || b >= blocks {
			continue
		}
		if b > next {
			parts = append(parts, ReadPart{BS: bs, Skip: next, Count: b - next})
		}
		if n := len(parts); n > 0 && parts[n-1].BS == SectorSize && parts[n-1].Skip+parts[n-1].Count == b*per {
			parts[n-1].Count += per // adjacent bad blocks: one run
		} else {
			parts = append(parts, ReadPart{BS: SectorSize, Skip: b * per, Count: per})
		}
		next = b + 1
	}
	if next < blocks {
		parts = append(parts, ReadPart{BS: bs, Skip: next, Count: blocks - next})
	}
	off := blocks * bs
	if rest := size - off; bs%SectorSize == 0 && rest >= SectorSize {
		parts = append(parts, ReadPart{BS: SectorSize, Skip: off / SectorSize, Count: rest / SectorSize})
		off += rest / SectorSize * SectorSize
	}
	if rest := size - off; rest > 0 {
		parts = append(parts, ReadPart{BS: 1, Skip: off, Count: rest})
	}
	return parts
}

// StopChunk is the default bound on one dd run of a stoppable copy: a
// stop takes effect within this many bytes, so a cancelled copy frees
// our mount within seconds even on slow storage (one more dd started per
// 8 MiB costs a fork, a fraction of a percent of the copy's time).
const StopChunk = 8 << 20

// DeviceParts reads a device whose size is only known roughly (esxcli's
// whole MiB): the reported size less one MiB in bs blocks, then 512-byte
// sectors up to the device's end, wherever that is. conv=sync pads only a
// short last block, and a device ends on a whole sector.
func DeviceParts(approxSize, bs int64) []ReadPart {
	full := (approxSize - 1<<20) / bs
	if bs%SectorSize != 0 || full < 1 {
		return []ReadPart{{BS: SectorSize, Count: -1}}
	}
	return []ReadPart{{BS: bs, Count: full}, {BS: SectorSize, Skip: full * (bs / SectorSize), Count: -1}}
}

// readParts is the shell group that reads the quoted source as the
// consecutive parts, each with conv=noerror,sync; its status is non-zero
// when any part failed or the copy was stopped, and each dd run prints its
// own record counts ([ParseDDStatus] adds them up). With a quoted stop
// file, a part longer than chunk bytes is read in a loop of such runs that
// ends when the stop file exists.
func readParts(qs string, parts []ReadPart, stop string, chunk int64) string {
	s := make([]string, 0, len(parts))
	for _, p := range parts {
		bs := strconv.FormatInt(p.BS, 10)
		per := max(chunk/p.BS, 1)
		if stop != "" && p.Count > per {
			n := strconv.FormatInt(per, 10)
			s = append(s, "i="+strconv.FormatInt(p.Skip, 10)+"; e="+strconv.FormatInt(p.Skip+p.Count, 10)+
				"; while [ $i -lt $e ]; do if [ -e "+stop+" ]; then ddrc=1; break; fi; n=$((e-i)); if [ $n -gt "+n+" ]; then n="+n+"; fi; "+
				"dd if="+qs+" bs="+bs+" skip=$i count=$n conv=noerror,sync || ddrc=1; i=$((i+n)); done")
			continue
		}
		d := "dd if=" + qs + " bs=" + bs
		if p.Skip > 0 {
			d += " skip=" + strconv.FormatInt(p.Skip, 10)
		}
		if p.Count >= 0 {
			d += " count=" + strconv.FormatInt(p.Count, 10)
		}
		s = append(s, d+" conv=noerror,sync || ddrc=1")
	}
	return "{ ddrc=0; " + strings.Join(s, "; ") + "; [ $ddrc -eq 0 ]; }"
}

// CmdStopCopies creates stopFile, which ends every stoppable copy
// ([CopyOptions].StopFile) reading into it within one run. The shell's
// own redirection creates it: no tool is needed.
func CmdStopCopies(stopFile string) (string, error) {
	q, err := quotePath("stop copies", "stop file", stopFile)
	if err != nil {
		return "", err
	}
	return ": > " + q, nil
}

// CmdClearStop removes stopFile when it is a regular file, and nothing
// else.
func CmdClearStop(stopFile string) (string, error) {
	q, err := quotePath("clear stop", "stop file", stopFile)
	if err != nil {
		return "", err
	}
	return "if [ -f " + q + " ]; then rm -f " + q + "; fi", nil
}

func checkParts(cmd string, parts []ReadPart) error {
	for i, p := range parts {
		if p.Count < 0 && i == len(parts)-1 {
			p.Count = 1 // the last part may read to the end
		}
		if p.BS < 1 || p.BS > maxBlockSize || p.Skip < 0 || p.Count < 1 {
			return argErr(cmd, "read part", strconv.FormatInt(p.BS, 10)+"/"+strconv.FormatInt(p.Skip, 10)+"/"+strconv.FormatInt(p.Count, 10), "needs 1 <= bs <= 1 GiB, skip >= 0 and count >= 1")
		}
	}
	return nil
}

// BlockRun is count consecutive blocks of bs bytes from block first.
type BlockRun struct {
	First, Count int64
}

// CmdProbeBlocks reads each run of src once into /dev/null, without
// noerror, and prints "bad FIRST" for each run that failed to read (parse
// with [ParseProbeBlocks]). It writes nothing: a run that reads is known
// good, a run that fails is probed again in smaller runs.
func CmdProbeBlocks(src string, bs int64, runs []BlockRun) (string, error) {
	const cmd = "probe blocks"
	qs, err := quotePath(cmd, "source", src)
	if err != nil {
		return "", err
	}
	if bs < 1 || bs > maxBlockSize {
		return "", argErr(cmd, "block size", strconv.FormatInt(bs, 10), "is not between 1 and 1 GiB")
	}
	if len(runs) == 0 {
		return "", argErr(cmd, "runs", "", "are empty")
	}
	var list []string
	for _, r := range runs {
		if r.First < 0 || r.Count < 1 {
			return "", argErr(cmd, "run", strconv.FormatInt(r.First, 10), "needs first >= 0 and count >= 1")
		}
		list = append(list, strconv.FormatInt(r.First, 10)+":"+strconv.FormatInt(r.Count, 10))
	}
	// One host command for all runs: the loop splits "FIRST:COUNT" with
	// the shell's own parameter expansion.
	return "for r in " + strings.Join(list, " ") + "; do dd if=" + qs + " of=/dev/null bs=" + strconv.FormatInt(bs, 10) +
		` skip=${r%:*} count=${r#*:} 2>/dev/null || echo "bad ${r%:*}"; done`, nil
}

// ParseProbeBlocks reads [CmdProbeBlocks]' output: the first blocks of the
// runs that failed.
func ParseProbeBlocks(out string) ([]int64, error) {
	var bad []int64
	for i, l := range lines(out) {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		n, ok := strings.CutPrefix(l, "bad ")
		v, err := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil || v < 0 {
			return nil, parseErr("block probe", i+1, "unexpected line %q", clip(l))
		}
		bad = append(bad, v)
	}
	return bad, nil
}

// SplitBadBlocks returns parts (a copy's read, [CopyParts]; nil for one dd
// at bs to the end) with each block in bad read 512 bytes at a time
// instead, everything else read as before: a second copy around bad
// sectors. bad are block indexes at bs; only parts of that block size
// (a multiple of 512) are split. Adjacent bad blocks become one run.
func SplitBadBlocks(parts []ReadPart, bs int64, bad []int64) []ReadPart {
	if len(parts) == 0 {
		parts = []ReadPart{{BS: bs, Count: -1}}
	}
	bad = append([]int64(nil), bad...)
	sort.Slice(bad, func(i, j int) bool { return bad[i] < bad[j] })
	per := bs / SectorSize
	var out []ReadPart
	add := func(p ReadPart) {
		if n := len(out); n > 0 && p.BS == SectorSize && out[n-1].BS == SectorSize && out[n-1].Count >= 0 && out[n-1].Skip+out[n-1].Count == p.Skip {
			if p.Count < 0 {
				out[n-1].Count = -1
			} else {
				out[n-1].Count += p.Count
			}
			return
		}
		out = append(out, p)
	}
	for _, p := range parts {
		if p.BS != bs || bs <= SectorSize || bs%SectorSize != 0 {
			add(p)
			continue
		}
		next := p.Skip
		for _, b := range bad {
			if b < next || (p.Count >= 0 && b >= p.Skip+p.Count) {
				continue
			}
			if b > next {
				add(ReadPart{BS: bs, Skip: next, Count: b - next})
			}
			add(ReadPart{BS: SectorSize, Skip: b * per, Count: per})
			next = b + 1
		}
		switch {
		case p.Count < 0:
			add(ReadPart{BS: bs, Skip: next, Count: -1})
		case next < p.Skip+p.Count:
			add(ReadPart{BS: bs, Skip: next, Count: p.Skip + p.Count - next})
		}
	}
	return out
}
