package esxi

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A size the block size does not divide copies at the full block size,
// byte for byte, on real busybox: whole blocks, then 512-byte blocks, then
// single bytes, through the same tee and hash pipeline.
func TestCmdCopySplitTailOnBusybox(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	ok := okFn(t)
	const bs = 1 << 16
	for _, size := range []int64{1, 511, 513, bs - 1, bs + 1, 3*bs + 512*5 + 7, 3 * bs} {
		data := make([]byte, size)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(h.work, "it's a log $HOME.log")
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		wantMD5, wantSHA := digest(data)
		for _, opts := range []CopyOptions{
			{Size: size},
			{Size: size, Hashes: []HashAlg{MD5}},
			{Size: size, Hashes: []HashAlg{MD5, SHA256}, FIFO: filepath.Join(h.work, "x.fifo")},
		} {
			dst := filepath.Join(h.work, "copy of it's")
			_ = os.Remove(dst)
			cmd := ok(CmdCopy(src, dst, bs, opts))
			if split := size%bs != 0; split != strings.Contains(cmd, "count=") {
				t.Errorf("size %d: split %v but command %q", size, split, cmd)
			}
			if size%bs != 0 && size > 512 && strings.Contains(cmd, "bs=1 count=") {
				t.Errorf("size %d: the whole file is read a byte at a time: %q", size, cmd)
			}
			out, errOut := h.mustRun(t, cmd)
			got, err := os.ReadFile(dst)
			if err != nil || string(got) != string(data) {
				t.Fatalf("size %d %v: copy has %d bytes (%v), want %d identical", size, opts.Hashes, len(got), err, size)
			}
			if len(opts.Hashes) > 0 {
				hh, err := CopyHashes(out, opts.Hashes)
				if err != nil || hh[MD5] != wantMD5 || (len(opts.Hashes) == 2 && hh[SHA256] != wantSHA) {
					t.Errorf("size %d: hashes %v, %v; want %s %s", size, hh, err, wantMD5, wantSHA)
				}
			}
			st, err := ParseDDStatus(errOut)
			if err != nil {
				t.Fatalf("size %d: dd status %q: %v", size, errOut, err)
			}
			// Counted in records: whole blocks at bs, then 512, then 1.
			want := size/bs + (size%bs)/512 + size%512
			if bs%512 != 0 || size%bs == 0 {
				want = size / bs
			}
			if st.FullIn != want || st.PartialIn != 0 || st.FullOut != want {
				t.Errorf("size %d: dd records %+v, want %d full in and out", size, st, want)
			}
		}
	}
}

func TestCmdCopySizeChecks(t *testing.T) {
	t.Parallel()
	if _, err := CmdCopy("/a", "/b", 512, CopyOptions{Size: -1}); err == nil {
		t.Error("negative size accepted")
	}
	plain, _ := CmdCopy("/a", "/b", 512, CopyOptions{})
	if same, _ := CmdCopy("/a", "/b", 512, CopyOptions{Size: 4096}); same != plain {
		t.Errorf("a size bs divides changed the command: %q vs %q", same, plain)
	}
}

func TestParseDDStatusParts(t *testing.T) {
	t.Parallel()
	st, err := ParseDDStatus("3+0 records in\n3+0 records out\n3145728 bytes copied\n5+0 records in\n5+0 records out\n2560 bytes copied\n7+0 records in\n7+0 records out\n7 bytes copied\n")
	if err != nil || st.FullIn != 15 || st.FullOut != 15 || st.Bytes != 3145728+2560+7 {
		t.Errorf("%+v, %v", st, err)
	}
	st, err = ParseDDStatus("3+0 records in\n3+0 records out\n3145728 bytes copied\n1+0 records in\n1+0 records out\n")
	if err != nil || st.Bytes != -1 {
		t.Errorf("bytes from only some parts must be unknown: %+v, %v", st, err)
	}
	for _, in := range []string{"1+0 records out\n1+0 records in\n", "1+0 records in\n1+0 records out\n1+0 records in\n"} {
		if _, err := ParseDDStatus(in); err == nil {
			t.Errorf("ParseDDStatus(%q) accepted", in)
		}
	}
}

func TestParseDatastorePathBrackets(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, ds, path string }{
		{"[Old SAN [LUN 5]] vm/vm.vmx", "Old SAN [LUN 5]", "vm/vm.vmx"},
		{"[Old SAN [LUN 5]] Finance [Q3]/Finance [Q3].vmx", "Old SAN [LUN 5]", "Finance [Q3]/Finance [Q3].vmx"},
		{"[ssd-store] Finance [Q3] Ledger/x.vmx", "ssd-store", "Finance [Q3] Ledger/x.vmx"},
		{"[a [b] [c]] d] e", "a [b] [c]", "d] e"},
		{"[ds]", "ds", ""},
		{"[x]y] z", "x]y", "z"}, // one possible split
	} {
		p, err := ParseDatastorePath(c.in)
		if err != nil || p.Datastore != c.ds || p.Path != c.path {
			t.Errorf("%q: %+v, %v; want %q %q", c.in, p, err, c.ds, c.path)
		}
	}
	// Unbalanced names with two possible splits need the host's names.
	in := "[a]b] c] d.vmx"
	if _, err := ParseDatastorePath(in); !errors.Is(err, ErrAmbiguousPath) {
		t.Errorf("%q: %v, want an ambiguity error", in, err)
	}
	for _, c := range []struct{ known, ds, path string }{{"a]b", "a]b", "c] d.vmx"}, {"a]b] c", "a]b] c", "d.vmx"}} {
		p, err := ParseDatastorePathIn(in, []string{"other", c.known})
		if err != nil || p.Datastore != c.ds || p.Path != c.path {
			t.Errorf("%q with %q known: %+v, %v", in, c.known, p, err)
		}
	}
}
