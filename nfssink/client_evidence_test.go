package nfssink

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"testing"
)

// TestOpenEvidence reads an evidence file read-only, in the sink and
// through the control API, with seeks; names outside the evidence folder
// and missing files are refused.
func TestOpenEvidence(t *testing.T) {
	t.Parallel()
	ts := newTestSink(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := ts.ServeControl(ctx); err != nil {
		t.Fatal(err)
	}
	c := dialRPC(t, ts.NFSAddr().String())
	_, root := c.mount("/esxsink")
	_, fh := c.create(root, "ev.bin", createUnchecked)
	data := pseudoRandom(3*65536, 3)
	for off := 0; off < len(data); off += 65536 {
		c.write(fh, uint64(off), data[off:off+65536], unstable)
	}
	if _, err := ts.Finalize(ctx, "ev.bin", "api", int64(len(data)), false); err != nil {
		t.Fatal(err)
	}
	cl := NewClient(ts.cfg.StateDir)
	for name, open := range map[string]func(context.Context, string) (io.ReadSeekCloser, error){
		"sink": ts.OpenEvidence, "control API": cl.OpenEvidence,
	} {
		f, err := open(ctx, "ev.bin")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		all, err := io.ReadAll(f)
		if err != nil || !bytes.Equal(all, data) {
			t.Errorf("%s: read all: %d bytes, %v", name, len(all), err)
		}
		buf := make([]byte, 1000)
		for _, off := range []int64{70000, 5, 3*65536 - 1000} {
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				t.Fatalf("%s: seek %d: %v", name, off, err)
			}
			if _, err := io.ReadFull(f, buf); err != nil || !bytes.Equal(buf, data[off:off+1000]) {
				t.Errorf("%s: read at %d: %v", name, off, err)
			}
		}
		if _, err := io.ReadFull(f, buf[:1]); err != io.EOF {
			t.Errorf("%s: read past the end: %v", name, err)
		}
		f.Close()
		if _, err := open(ctx, "missing.bin"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: missing file: %v", name, err)
		}
		if _, err := open(ctx, "../custody.jsonl"); err == nil {
			t.Errorf("%s: opened a file outside the evidence folder", name)
		}
	}
}
