package hashlog

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/esxsink/esxsink/custody"
)

// MaxLineSize bounds one custody log line. A file.finalized record of a
// 64 TiB disk with 256 MiB pieces is about 17 MB; anything far beyond
// that is damage, and reading it whole could exhaust memory.
const MaxLineSize = 64 << 20

// entry is one physical line of the log.
type entry struct {
	num      int    // 1-based line number
	off      int64  // byte offset of the line
	raw      []byte // the line without its newline
	complete bool   // the line ended with "\n"
	hash     string // lineHash of raw+"\n"; complete lines only
	rec      *wireRecord
	perr     error // why raw is not a record
	torn     bool  // vouched for by the log.torn_tail record after it
}

// chain is the result of reading and walking a custody log.
type chain struct {
	records  []custody.Record  // readable records outside torn lines, in file order
	findings []custody.Finding // chain problems, in line order
	lines    int               // complete lines
	size     int64             // bytes read
	// headSeq and headHash describe where the next record attaches: the
	// seq of the last readable record and the hash of the last complete
	// line that is not torn.
	headSeq  int64
	headHash string
	tail     *entry // unterminated bytes at the end of the file, if any
	// truncated is set when a line exceeded MaxLineSize and reading stopped.
	truncated bool
}

// readLogFile reads and walks the custody log at path.
func readLogFile(path string) (*chain, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open custody log %s: %w", path, err)
	}
	defer f.Close()
	c, err := readChain(f)
	if err != nil {
		return nil, fmt.Errorf("read custody log %s: %w", path, err)
	}
	return c, nil
}

// ReadLog reads the custody log at path and walks its hash chain. It
// returns the readable records (torn lines left out) and the chain's
// findings; the error is only for I/O. The report package uses it to read
// a case without re-hashing anything.
func ReadLog(path string) ([]custody.Record, []custody.Finding, error) {
	c, err := readLogFile(path)
	if err != nil {
		return nil, nil, err
	}
	return c.records, c.findings, nil
}

var errLineTooLong = errors.New("line too long")

// readLine reads one line of at most MaxLineSize bytes plus newline.
func readLine(br *bufio.Reader) (raw []byte, complete bool, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		if len(raw)+len(frag) > MaxLineSize+1 {
			return raw, false, errLineTooLong
		}
		raw = append(raw, frag...)
		switch {
		case err == nil:
			return raw[:len(raw)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return raw, false, io.EOF
		default:
			return raw, false, err
		}
	}
}

// readChain reads every line from r and walks the hash chain.
func readChain(r io.Reader) (*chain, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	c := &chain{headHash: GenesisPrev}
	var entries []*entry
	var off int64
	for {
		raw, complete, err := readLine(br)
		if errors.Is(err, errLineTooLong) {
			c.truncated = true
			c.findings = append(c.findings, custody.Finding{Severity: custody.Failure, Line: len(entries) + 1,
				What: fmt.Sprintf("line at byte offset %d is longer than %d bytes; the rest of the log was not read", off, MaxLineSize)})
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if len(raw) > 0 || complete {
			e := &entry{num: len(entries) + 1, off: off, raw: raw, complete: complete}
			if complete {
				e.hash = lineHash(append(raw[:len(raw):len(raw)], '\n'))
				off += int64(len(raw)) + 1
				c.lines++
			} else {
				off += int64(len(raw))
			}
			e.rec, e.perr = parseLine(raw)
			entries = append(entries, e)
		}
		if err != nil { // io.EOF
			break
		}
	}
	c.size = off
	if n := len(entries); n > 0 && !entries[n-1].complete {
		c.tail = entries[n-1]
		entries = entries[:n-1]
		c.findings = append(c.findings, custody.Finding{Severity: custody.Notice, Line: c.tail.num,
			What: fmt.Sprintf("log ends with %d bytes without a newline at offset %d (an interrupted write, or a writer is appending right now); they are not part of the chain, and the next Open records them as a torn tail", len(c.tail.raw), c.tail.off)})
	}
	c.walk(markTorn(entries, c))
	return c, nil
}

// markTorn flags the lines that a following log.torn_tail record vouches
// for, reports torn_tail records that vouch for nothing, and returns the
// lines that take part in the chain.
func markTorn(entries []*entry, c *chain) []*entry {
	for i, e := range entries {
		if e.rec == nil || e.rec.Type != custody.TypeTornTail {
			continue
		}
		var tt custody.TornTail
		if err := json.Unmarshal(e.rec.Data, &tt); err != nil {
			c.findings = append(c.findings, custody.Finding{Severity: custody.Failure, Line: e.num,
				What: fmt.Sprintf("log.torn_tail data unreadable: %v", err)})
			continue
		}
		if i > 0 && vouches(tt, entries[i-1]) {
			entries[i-1].torn = true
			continue
		}
		c.findings = append(c.findings, custody.Finding{Severity: custody.Failure, Line: e.num,
			What: fmt.Sprintf("log.torn_tail names %d bytes at offset %d that are not the line before it", tt.Length, tt.Offset)})
	}
	var out []*entry
	for _, e := range entries {
		if e.torn {
			c.findings = append(c.findings, custody.Finding{Severity: custody.Notice, Line: e.num,
				What: fmt.Sprintf("torn line of %d bytes at offset %d from an interrupted write; recorded by log.torn_tail at line %d and left out of the chain", len(e.raw), e.off, e.num+1)})
			continue
		}
		out = append(out, e)
	}
	return out
}

// vouches reports whether tt names exactly the bytes of line e.
func vouches(tt custody.TornTail, e *entry) bool {
	s := sha256.Sum256(e.raw)
	return tt.Offset == e.off && tt.Length == int64(len(e.raw)) && tt.SHA256 == hex.EncodeToString(s[:])
}

// walk checks seq and prev along the chain lines and explains each break
// in terms of what must have happened to the file (edit, deletion,
// insertion, reordering), naming the line.
func (c *chain) walk(ch []*entry) {
	byHash := map[string]int{}
	for i, e := range ch {
		if _, dup := byHash[e.hash]; !dup {
			byHash[e.hash] = i
		}
	}
	fail := func(line int, format string, args ...any) {
		c.findings = append(c.findings, custody.Finding{Severity: custody.Failure, Line: line, What: fmt.Sprintf(format, args...)})
	}
	blamed := map[int]bool{} // lines already reported as altered
	var lastSeq int64
	var lastTime string
	for idx, e := range ch {
		if e.perr != nil {
			fail(e.num, "not a valid custody record: %v", e.perr)
			continue
		}
		w := e.rec
		c.records = append(c.records, toRecord(w, e.num, e.off, e.hash))
		if lastTime != "" && w.Time < lastTime {
			c.findings = append(c.findings, custody.Finding{Severity: custody.Notice, Line: e.num,
				What: fmt.Sprintf("time %s is earlier than the record before it (%s): the clock was set back", w.Time, lastTime)})
		}
		lastTime = w.Time
		var before *entry
		wantPrev := GenesisPrev
		if idx > 0 {
			before = ch[idx-1]
			wantPrev = before.hash
		}
		expected := lastSeq + 1
		lastSeq = w.Seq
		if w.Prev == wantPrev {
			// Nothing is known about a seq after an unreadable line.
			if (before == nil || before.rec != nil) && w.Seq != expected {
				fail(e.num, "seq %d, expected %d: the seq field was altered although the link to the line before holds", w.Seq, expected)
			}
			continue
		}
		if before != nil && before.rec == nil {
			continue // the unreadable line before is already reported
		}
		j, found := byHash[w.Prev]
		next := (*entry)(nil)
		if idx+1 < len(ch) {
			next = ch[idx+1]
		}
		switch {
		case w.Prev == GenesisPrev:
			fail(e.num, "record claims to start the log (zero prev) but follows line %d: lines were inserted before it, or two logs were spliced", before.num)
		case found && j > idx:
			fail(e.num, "prev is the hash of line %d, which comes after it: lines were reordered", ch[j].num)
		case found && j < idx-1:
			fail(e.num, "prev is the hash of line %d, not of line %d: %s inserted or moved here", ch[j].num, before.num, lineSpan(ch[j+1].num, before.num))
		case w.Seq > expected:
			fail(e.num, "%s missing before this line: deleted", seqSpan(expected, w.Seq-1))
		case next != nil && next.rec != nil && next.rec.Prev != e.hash:
			blamed[e.num] = true
			if before != nil {
				fail(e.num, "this line was altered: it no longer links to line %d, and line %d no longer links to it", before.num, next.num)
			} else {
				fail(e.num, "this line was altered: it does not start the chain, and line %d no longer links to it", next.num)
			}
		case before == nil:
			fail(e.num, "first record has prev %s, want %s", w.Prev, GenesisPrev)
		case !blamed[before.num]:
			blamed[before.num] = true
			fail(before.num, "this line was altered after line %d was written: it hashes to %s, but line %d recorded prev %s", e.num, before.hash, e.num, w.Prev)
		}
	}
	if n := len(ch); n > 0 {
		c.headHash = ch[n-1].hash
	}
	c.headSeq = lastSeq
	sortFindings(c.findings)
}

// lineSpan names lines a to b: "line 3 was" or "lines 3-5 were".
func lineSpan(a, b int) string {
	if a == b {
		return fmt.Sprintf("line %d was", a)
	}
	return fmt.Sprintf("lines %d-%d were", a, b)
}

// seqSpan names missing records a to b: "record seq 3 is" or
// "2 records, seq 3-4, are".
func seqSpan(a, b int64) string {
	if a == b {
		return fmt.Sprintf("record seq %d is", a)
	}
	return fmt.Sprintf("%d records, seq %d-%d, are", b-a+1, a, b)
}
