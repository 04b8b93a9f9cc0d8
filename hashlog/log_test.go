package hashlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/esxsink/esxsink/custody"
)

func TestAppendWritesChainedCanonicalLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if seq, h := l.Head(); seq != 0 || h != GenesisPrev {
		t.Fatalf("empty head = %d %s", seq, h)
	}
	r1 := mustAppend(t, l, custody.TypeNote, custody.Note{Text: "first"})
	r2 := mustAppend(t, l, custody.TypeFileCreated, custody.FileCreated{Path: "x/y.vmdk", FileID: 42})
	if r1.Seq != 1 || r1.Prev != GenesisPrev || r1.Line != 1 || r1.Offset != 0 {
		t.Fatalf("first record %+v", r1)
	}
	if r2.Seq != 2 || r2.Prev != r1.Hash || r2.Line != 2 {
		t.Fatalf("second record %+v does not chain to %s", r2, r1.Hash)
	}
	lines := readLines(t, dir)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	for i, r := range []custody.Record{r1, r2} {
		s := sha256.Sum256(lines[i]) // newline included, as documented
		if hex.EncodeToString(s[:]) != r.Hash {
			t.Fatalf("line %d hash %x, record says %s", i+1, s, r.Hash)
		}
	}
	if seq, h := l.Head(); seq != 2 || h != r2.Hash {
		t.Fatalf("head = %d %s, want 2 %s", seq, h, r2.Hash)
	}
	if r2.Offset != int64(len(lines[0])) {
		t.Fatalf("offset %d, want %d", r2.Offset, len(lines[0]))
	}
	want := regexp.MustCompile(`^\{"seq":2,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z","type":"file\.created","prev":"` + r1.Hash + `","data":\{"path":"x/y\.vmdk","fileid":42\}\}` + "\n$")
	if !want.Match(lines[1]) {
		t.Fatalf("line 2 = %q, not in the documented form", lines[1])
	}
}

func TestReopenAppendsAndNeverRewrites(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, standardFiles())
	before, err := os.ReadFile(LogPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	oldLines := len(readLines(t, dir))
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := l.Damage(); d != nil {
		t.Fatalf("intact log reported damage: %v", d)
	}
	seq, head := l.Head()
	if seq != int64(oldLines) || head != lineHash(readLines(t, dir)[oldLines-1]) {
		t.Fatalf("reopened head %d %s does not match the file's last line", seq, head)
	}
	r := mustAppend(t, l, custody.TypeNote, custody.Note{Text: "reopened"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(LogPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(after, before) {
		t.Fatal("reopening changed the bytes of existing lines")
	}
	if r.Seq != seq+1 || r.Prev != head || r.Line != oldLines+1 || r.Offset != int64(len(before)) {
		t.Fatalf("appended after reopen: %+v, want seq %d prev %s line %d", r, seq+1, head, oldLines+1)
	}
	if rep := verify(t, dir); !rep.OK() {
		t.Fatalf("reopened log fails:\n%s", rep)
	}
}

func TestConcurrentAppendsFormOneChain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 12
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := l.Append(custody.TypeNote, custody.Note{Text: fmt.Sprintf("worker %d record %d", w, i)}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seq, head := l.Head()
	l.Close()
	rep := verify(t, dir)
	if !rep.Intact() || rep.Records != workers*each || rep.HeadSeq != workers*each || rep.HeadHash != head || seq != workers*each {
		t.Fatalf("records %d head %d %s (log head %d %s):\n%s", rep.Records, rep.HeadSeq, rep.HeadHash, seq, head, rep)
	}
	recs, _, err := ReadLog(LogPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("line %d has seq %d", i+1, r.Seq)
		}
		var n custody.Note
		if err := r.Decode(&n); err != nil || seen[n.Text] {
			t.Fatalf("line %d: note %q duplicated or unreadable (%v)", i+1, n.Text, err)
		}
		seen[n.Text] = true
	}
}

func TestSecondWriterIsRefused(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no file lock on Windows (fs_other.go)")
	}
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrLogLocked) {
		t.Fatalf("second Open: %v, want ErrLogLocked", err)
	}
	l.Close()
	l2, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	l2.Close()
}

func TestAppendRefusesBadInput(t *testing.T) {
	t.Parallel()
	l, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		typ  string
		data any
	}{
		{custody.TypeTornTail, custody.TornTail{}},
		{"log.anything", nil},
		{"Case Opened", nil},
		{"case..opened", nil},
		{"", nil},
		{custody.TypeNote, []string{"not", "an", "object"}},
		{custody.TypeNote, 42},
		{custody.TypeFileFinalized, custody.FileFinalized{Path: "../outside.vmdk", Hashes: map[string]string{"md5": strings.Repeat("0", 32)}}},
		{custody.TypeFileFinalized, &custody.FileFinalized{Path: "/abs.vmdk"}},
		{custody.TypeFileFinalized, custody.FileFinalized{Path: "a/./b"}},
	}
	for _, c := range cases {
		if _, err := l.Append(c.typ, c.data); err == nil {
			t.Errorf("Append(%q, %#v) succeeded", c.typ, c.data)
		}
	}
	if seq, _ := l.Head(); seq != 0 {
		t.Fatalf("refused appends wrote %d records", seq)
	}
	r := mustAppend(t, l, "command.run", map[string]any{"cmd": "vim-cmd vmsvc/getallvms", "exit": 0})
	if r.Seq != 1 {
		t.Fatalf("open-ended type got seq %d", r.Seq)
	}
	l.Close()
	if _, err := l.Append(custody.TypeNote, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}
}

func TestTrickyDataStaysCanonical(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<a&b>", "line\nbreak\ttab", "\u2028\u2029", "bad utf8 \xff\xfe", `quote " backslash \`, "日本語 [snapshot] $HOME"} {
		mustAppend(t, l, custody.TypeNote, custody.Note{Text: s})
	}
	mustAppend(t, l, "x-custom", json.RawMessage(`{ "spaced" : [1, 2] , "html":"<b>" }`))
	mustAppend(t, l, custody.TypeNote, nil)
	l.Close()
	if rep := verify(t, dir); !rep.Intact() || len(rep.Findings) != 0 {
		t.Fatalf("records written by Append do not verify cleanly:\n%s", rep)
	}
}

func TestTornTailIsRecoveredAndVerifies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		torn func(lastLine []byte) []byte
	}{
		{"partial line", func([]byte) []byte { return []byte(`{"seq":99,"time":"2026-0`) }},
		{"complete record without newline", func(last []byte) []byte { return bytes.TrimSuffix(last, []byte("\n")) }},
		{"zeros from a lost block", func([]byte) []byte { return make([]byte, 700) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := makeCase(t, standardFiles()[:1])
			lines := readLines(t, dir)
			n := len(lines)
			torn := tc.torn(lines[n-1])
			if tc.name == "complete record without newline" {
				// The last record's write lost its newline: it never completed.
				lines = lines[:n-1]
				n--
			}
			intact := bytes.Join(lines, nil)
			writeLines(t, dir, append(lines, torn))

			rep := verify(t, dir)
			if !rep.OK() || !strings.Contains(rep.String(), "without a newline") {
				t.Fatalf("unrecovered torn tail should be a notice:\n%s", rep)
			}

			l, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if d := l.Damage(); d != nil {
				t.Fatalf("torn tail reported as damage: %v", d)
			}
			mustAppend(t, l, custody.TypeNote, custody.Note{Text: "after recovery"})
			l.Close()

			after, _ := os.ReadFile(LogPath(dir))
			if !bytes.HasPrefix(after, append(append(intact, torn...), '\n')) {
				t.Fatal("recovery rewrote bytes instead of only appending")
			}
			got := readLines(t, dir)
			if len(got) != n+3 {
				t.Fatalf("%d lines after recovery, want %d", len(got), n+3)
			}
			w, err := parseLine(bytes.TrimSuffix(got[n+1], []byte("\n")))
			if err != nil || w.Type != custody.TypeTornTail {
				t.Fatalf("line %d is not a torn_tail record: %q (%v)", n+2, got[n+1], err)
			}
			var tt custody.TornTail
			json.Unmarshal(w.Data, &tt)
			sum := sha256.Sum256(torn)
			if tt.Offset != int64(len(intact)) || tt.Length != int64(len(torn)) || tt.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("torn_tail %+v, want offset %d length %d", tt, len(intact), len(torn))
			}
			if w.Prev != lineHash(lines[n-1]) || w.Seq != int64(n)+1 {
				t.Fatalf("torn_tail seq %d prev %s does not continue from line %d", w.Seq, w.Prev, n)
			}

			rep = verify(t, dir)
			if !rep.OK() {
				t.Fatalf("recovered log fails:\n%s", rep)
			}
			notice := false
			for _, f := range rep.Findings {
				notice = notice || (f.Severity == custody.Notice && f.Line == n+1 && strings.Contains(f.What, "torn"))
			}
			if !notice {
				t.Fatalf("no notice naming torn line %d:\n%s", n+1, rep)
			}

			// A second reopen finds nothing to recover.
			l, err = Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			if again := readLines(t, dir); len(again) != n+3 {
				t.Fatalf("second reopen added lines: %d", len(again))
			}
		})
	}
}

func TestDamagedLogStillOpensForAppend(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, standardFiles())
	lines := readLines(t, dir)
	lines[2] = bytes.Replace(lines[2], []byte(`"fileid":100`), []byte(`"fileid":666`), 1)
	writeLines(t, dir, lines)

	l, err := Open(dir)
	if err != nil {
		t.Fatalf("Open of a damaged log: %v", err)
	}
	d := l.Damage()
	if len(d) == 0 || d[0].Line != 3 {
		t.Fatalf("Damage() = %v, want a failure naming line 3", d)
	}
	r := mustAppend(t, l, custody.TypeNote, custody.Note{Text: "examiner noticed damage"})
	l.Close()
	if r.Prev != lineHash(lines[len(lines)-1]) {
		t.Fatal("new record does not chain to the last line as it stands")
	}
	rep := verify(t, dir)
	requireFailure(t, rep, 3, "", "was altered")
	if rep.Failures() != 1 {
		t.Fatalf("appending to a damaged log added failures:\n%s", rep)
	}
}
