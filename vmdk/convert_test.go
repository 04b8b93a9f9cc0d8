package vmdk

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConvertDefaults: by default Convert reports MD5 and SHA-256 of the
// raw output (holes included), refuses to overwrite, and reports
// progress up to the full size.
func TestConvertDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := buildOwnChain(t, dir)
	d, err := Open(filepath.Join(dir, "base-000002.vmdk"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out := filepath.Join(t.TempDir(), "disk.raw")
	var last, calls int64
	res, err := Convert(context.Background(), d, out, ConvertOptions{Workers: 3, Progress: func(done, total int64) {
		if done < last || total != d.Size() {
			t.Errorf("progress %d/%d after %d", done, total, last)
		}
		last = done
		calls++
	}})
	if err != nil {
		t.Fatal(err)
	}
	if last != d.Size() || calls < 2 {
		t.Errorf("progress ended at %d after %d calls, want %d", last, calls, d.Size())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m := md5.Sum(raw)
	if res.Digest.Sums["md5"] != hex.EncodeToString(m[:]) || res.Digest.Sums["sha256"] != c.want["base-000002.vmdk"] {
		t.Errorf("digests %v, want md5 %x and sha256 %s", res.Digest.Sums, m, c.want["base-000002.vmdk"])
	}
	if res.DataBytes+res.HoleBytes != d.Size() || res.DataBytes == 0 || res.HoleBytes == 0 {
		t.Errorf("data %d + holes %d != %d", res.DataBytes, res.HoleBytes, d.Size())
	}
	if a := allocatedBytes(t, out); a > res.DataBytes+mib {
		t.Errorf("output occupies %d bytes for %d bytes of data", a, res.DataBytes)
	}

	_, err = Convert(context.Background(), d, out, ConvertOptions{})
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("second convert to the same file: %v", err)
	}
	if after, _ := os.ReadFile(out); !bytes.Equal(after, raw) {
		t.Error("a refused convert changed the existing file")
	}
	if _, err := Convert(context.Background(), d, out, ConvertOptions{Overwrite: true, Hashes: []string{}}); err != nil {
		t.Errorf("Overwrite: %v", err)
	}
	// Never over one of the disk's own files, even with Overwrite; no
	// sentinel: the refusal's words, naming the file, are the product.
	flat := filepath.Join(dir, "base-flat.vmdk")
	before := sha256File(t, flat)
	_, err = Convert(context.Background(), d, flat, ConvertOptions{Overwrite: true})
	if err == nil || !strings.Contains(err.Error(), "disk's own files") || sha256File(t, flat) != before {
		t.Errorf("convert onto the base extent: %v", err)
	}
}

func TestConvertCancel(t *testing.T) {
	t.Parallel()
	d, dir := openOwnChain(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := filepath.Join(dir, "o.raw")
	_, err := Convert(ctx, d, out, ConvertOptions{Progress: func(done, total int64) {
		if done >= 8*mib {
			cancel()
		}
	}})
	if err == nil || ctx.Err() == nil {
		t.Fatalf("cancelled convert returned %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("cancelled convert left %s: %v", out, err)
	}
}

// TestInfo checks the summary of our chain against what the writers put
// in it.
func TestInfo(t *testing.T) {
	t.Parallel()
	d, _ := openOwnChain(t)
	in, err := d.Info(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if in.Size != ownChainSize || in.CreateType != "seSparse" || len(in.Chain) != 3 || len(in.Warnings) != 0 {
		t.Fatalf("info %+v", in)
	}
	for i, l := range in.Chain[:2] {
		if l.CIDMatchesParent == nil || !*l.CIDMatchesParent || l.ParentCID != in.Chain[i+1].CID {
			t.Errorf("layer %d: CID link %+v", i, l)
		}
	}
	// The seSparse layer: count its grains from its tables.
	se := d.Layers[0].extents[0].ext.(*seSparseExtent)
	var data, zero int64
	for ti := range se.gd {
		tbl, _ := se.table(int64(ti))
		for _, e := range tbl {
			switch e & seEntryMask {
			case seEntryAllocated:
				data += 4096
			case seEntryZero, seEntryUnmapped:
				zero += 4096
			}
		}
	}
	last := ownChainSize % 4096 // the partial last grain is allocated
	if got := in.Chain[0]; got.AllocatedBytes != data-(4096-last) || got.ZeroBytes != zero {
		t.Errorf("seSparse layer: data %d zero %d, tables say %d and %d", got.AllocatedBytes, got.ZeroBytes, data-(4096-last), zero)
	}
	if in.AllocatedBytes+in.ZeroBytes > in.Size || in.AllocatedBytes < in.Chain[0].AllocatedBytes {
		t.Errorf("chain totals: data %d zero %d", in.AllocatedBytes, in.ZeroBytes)
	}
	var text bytes.Buffer
	in.WriteText(&text)
	for _, w := range []string{"seSparse", "matches the parent", "COWD (vmfsSparse)", "raw (VMFS)"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("text output lacks %q:\n%s", w, text.String())
		}
	}
	js, err := json.Marshal(in)
	if err != nil || !bytes.Contains(js, []byte(`"cid_matches_parent":true`)) {
		t.Errorf("json: %v %s", err, js)
	}
}
