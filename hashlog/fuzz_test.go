package hashlog

import (
	"bytes"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/custody"
)

// seedLog is a valid three-record log built with the real encoder.
func seedLog(tb testing.TB) []byte {
	tb.Helper()
	var b bytes.Buffer
	prev := GenesisPrev
	for i, data := range []string{`{"case_id":"c1"}`, `{"path":"a.vmdk","fileid":1}`, `{"path":"a.vmdk","size":0,"hashes":{"md5":"d41d8cd98f00b204e9800998ecf8427e"},"reason":"api"}`} {
		typ := []string{custody.TypeCaseOpened, custody.TypeFileCreated, custody.TypeFileFinalized}[i]
		line, err := encodeLine(wireRecord{Seq: int64(i + 1), Time: "2026-01-02T03:04:05.000000006Z", Type: typ, Prev: prev, Data: []byte(data)})
		if err != nil {
			tb.Fatal(err)
		}
		b.Write(line)
		prev = lineHash(line)
	}
	return b.Bytes()
}

// FuzzVerifyChain feeds arbitrary bytes to the log walker used by Open,
// VerifyCase and ReadLog. It must never panic, and what it reports must
// be consistent with the input.
func FuzzVerifyChain(f *testing.F) {
	valid := seedLog(f)
	lines := bytes.SplitAfter(valid, []byte("\n"))
	f.Add(valid)
	f.Add([]byte{})
	f.Add([]byte("\n"))
	f.Add(valid[:len(valid)-7])                                           // torn tail
	f.Add(bytes.Join([][]byte{lines[1], lines[0], lines[2]}, nil))        // reordered
	f.Add(bytes.Join([][]byte{lines[0], lines[2]}, nil))                  // deleted
	f.Add(bytes.Replace(valid, []byte(`"c1"`), []byte(`"c2"`), 1))        // edited
	f.Add(bytes.Replace(valid, []byte(`"seq":2`), []byte(`"seq":-2`), 1)) // bad seq
	f.Add([]byte(`{"seq":1,"time":"x","type":"","prev":"","data":null}` + "\n"))
	f.Add([]byte(strings.Repeat("{", 1000) + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := readChain(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("reading from memory failed: %v", err)
		}
		if c.size != int64(len(data)) {
			t.Fatalf("read %d of %d bytes", c.size, len(data))
		}
		if c.lines != bytes.Count(data, []byte("\n")) {
			t.Fatalf("%d lines, input has %d newlines", c.lines, bytes.Count(data, []byte("\n")))
		}
		maxLine := c.lines + 1
		failed := false
		for _, fd := range c.findings {
			if fd.Line < 0 || fd.Line > maxLine || fd.What == "" {
				t.Fatalf("finding out of range: %+v", fd)
			}
			failed = failed || fd.Severity == custody.Failure
		}
		// A log without failures is a proper chain: seq 1, 2, 3 ... each
		// linked to the record before it.
		if !failed {
			prev := GenesisPrev
			for i, r := range c.records {
				if r.Seq != int64(i+1) || r.Prev != prev {
					t.Fatalf("no failure reported, but record %d has seq %d prev %s (want %s)", i, r.Seq, r.Prev, prev)
				}
				prev = r.Hash
			}
			if c.headHash != prev && len(c.records) > 0 {
				t.Fatalf("head %s, last record %s", c.headHash, prev)
			}
		}
		// Every record must survive a re-encode unchanged.
		for _, r := range c.records {
			line, err := encodeLine(wireRecord{Seq: r.Seq, Time: r.Time.UTC().Format(TimeFormat), Type: r.Type, Prev: r.Prev, Data: r.Data})
			if err != nil || lineHash(line) != r.Hash {
				t.Fatalf("record at line %d does not re-encode to its own bytes", r.Line)
			}
		}
	})
}
