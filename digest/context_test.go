package digest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cancelAfter cancels its context once n bytes were read.
type cancelAfter struct {
	r      *strings.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p[:min(len(p), c.n)])
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestReaderStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &cancelAfter{r: strings.NewReader(strings.Repeat("x", 3*maxChunk)), n: maxChunk, cancel: cancel}
	res, err := Reader(ctx, src, []string{"md5"}, 0)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if res.Size != maxChunk {
		t.Errorf("hashed %d bytes after cancelling at %d", res.Size, maxChunk)
	}
}

func TestFileCancelled(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, err := File(context.Background(), p, []string{"md5"}, 0); err != nil || r.Sums["md5"] != "8d777f385d3dfec8815d20f7496026dc" {
		t.Fatalf("File: %v %v", r.Sums, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := File(ctx, p, []string{"md5"}, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled File: %v", err)
	}
}
