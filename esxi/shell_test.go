package esxi

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hostileNames are file names a VM folder might hold on a hostile or merely
// careless host. Each would run "touch PWNED" if a command interpolated it
// unquoted.
var hostileNames = []string{
	"plain-flat.vmdk",
	"with space-flat.vmdk",
	"it's-flat.vmdk",
	`double "q".vmdk`,
	"$(touch PWNED).vmdk",
	"`touch PWNED`.vmdk",
	"semi;touch PWNED;.vmdk",
	"amp&touch PWNED&.vmdk",
	"pipe|touch PWNED.vmdk",
	"new\nline;touch PWNED.vmdk",
	"star*.vmdk",
	"*",
	"[brackets] x.vmdk",
	"-rf",
	"-n.vmdk",
	`back\slash.vmdk`,
	"tab\there.vmdk",
	"$HOME.vmdk",
	"~tilde",
	"{a,b}.vmdk",
	"é-utf8.vmdk",
	"\xff\xfe-latin1",
	".hidden",
	"..dots",
	" leading space",
	"trailing space ",
}

func digest(b []byte) (string, string) {
	m := md5.Sum(b)
	s := sha256.Sum256(b)
	return hex.EncodeToString(m[:]), hex.EncodeToString(s[:])
}

// Every command that takes a path, run by real busybox sh on files with
// hostile names, touches exactly those files, and nothing else runs.
func TestBuiltCommandsOnHostileNames(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	ok := okFn(t)
	root := filepath.Join(filepath.Dir(h.work), "vmfs")
	vmDir := filepath.Join(root, "VM [x] it's $(touch PWNED) `touch PWNED`")
	outDir := filepath.Join(root, "sink; touch PWNED")
	for _, d := range []string{vmDir, outDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	content := map[string][]byte{}
	for i, name := range hostileNames {
		// Sizes: every third a multiple of 512, the rest odd.
		b := []byte(strings.Repeat(fmt.Sprintf("%03d %q\n", i, name), i*7))
		if i%3 == 0 {
			b = append(b, make([]byte, 512-len(b)%512)...)
		}
		content[name] = b
		if err := os.WriteFile(filepath.Join(vmDir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	for i, name := range hostileNames {
		src := filepath.Join(vmDir, name)
		data := content[name]
		wantMD5, wantSHA := digest(data)

		out, _ := h.mustRun(t, ok(CmdHash(MD5, src)))
		if got, err := ParseHash(out, MD5); err != nil || got != wantMD5 {
			t.Errorf("%q: md5 %q, %v; want %s", name, got, err, wantMD5)
		}
		out, _ = h.mustRun(t, ok(CmdHash(SHA256, src)))
		if got, err := ParseHash(out, SHA256); err != nil || got != wantSHA {
			t.Errorf("%q: sha256 %q, %v; want %s", name, got, err, wantSHA)
		}

		out, _ = h.mustRun(t, ok(CmdHashPrefix(MD5, src, 10)))
		if wantMD5, _ := digest(data[:min(10, len(data))]); out != wantMD5+"  -\n" {
			t.Errorf("%q: md5 of the first 10 bytes %q, want %s", name, out, wantMD5)
		}

		out, _ = h.mustRun(t, ok(CmdStat(src)))
		st, err := ParseStat(out)
		if err != nil || st.Size != int64(len(data)) || !st.Mode.IsRegular() || st.Mode.Perm() != 0o600 {
			t.Errorf("%q: stat %+v, %v; want a regular 0600 file of %d bytes", name, st, err, len(data))
		}

		out, _ = h.mustRun(t, ok(CmdReadFile(src, 10)))
		if want := data[:min(10, len(data))]; out != string(want) {
			t.Errorf("%q: read %q, want %q", name, out, want)
		}

		bs := CopyBlockSize(int64(len(data)), 1<<20)
		plain := filepath.Join(outDir, "plain "+name)
		h.mustRun(t, ok(CmdCopy(src, plain, bs, CopyOptions{})))
		one := filepath.Join(outDir, "one "+name)
		out, errOut := h.mustRun(t, ok(CmdCopy(src, one, bs, CopyOptions{Hashes: []HashAlg{MD5}})))
		if got, err := CopyHashes(out, []HashAlg{MD5}); err != nil || got[MD5] != wantMD5 {
			t.Errorf("%q: single-pass md5 %v, %v; want %s", name, got, err, wantMD5)
		}
		if st, err := ParseDDStatus(errOut); err != nil || st.FullIn*bs != int64(len(data)) || st.PartialIn != 0 {
			t.Errorf("%q: dd status %+v, %v for %d bytes at bs=%d", name, st, err, len(data), bs)
		}
		two := filepath.Join(outDir, "two "+name)
		fifo := filepath.Join(root, fmt.Sprintf("fifo %d it's $(touch PWNED)", i))
		out, _ = h.mustRun(t, ok(CmdCopy(src, two, bs, CopyOptions{Hashes: []HashAlg{SHA256, MD5}, FIFO: fifo})))
		if got, err := CopyHashes(out, []HashAlg{MD5, SHA256}); err != nil || got[MD5] != wantMD5 || got[SHA256] != wantSHA {
			t.Errorf("%q: two-hash copy %v, %v; want %s %s", name, got, err, wantMD5, wantSHA)
		}
		if _, err := os.Lstat(fifo); !os.IsNotExist(err) {
			t.Errorf("%q: FIFO left behind: %v", name, err)
		}
		for _, p := range []string{plain, one, two} {
			got, err := os.ReadFile(p)
			if err != nil || string(got) != string(data) {
				t.Errorf("%q: copy %s has %d bytes (%v), want the %d source bytes", name, filepath.Base(p), len(got), err, len(data))
			}
		}
	}

	// The folder listing names exactly the files, "*" and dot files too.
	out, _ := h.mustRun(t, ok(CmdLsVMFolder(vmDir)))
	entries, err := ParseFolderListing(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
		if e.Size != int64(len(content[e.Name])) || !e.Mode.IsRegular() {
			t.Errorf("listing: %q size %d mode %o, want %d regular", e.Name, e.Size, e.Mode, len(content[e.Name]))
		}
	}
	want := slices.Clone(hostileNames)
	slices.Sort(want)
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Errorf("listing names\n got %q\nwant %q", names, want)
	}

	noFile(t, "PWNED", filepath.Dir(h.work))
}

func TestFindVMX(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	ok := okFn(t)
	vols := filepath.Join(filepath.Dir(h.work), "volumes")
	ds := filepath.Join(vols, "61a0c2f1-uuid")
	want := []string{
		ds + "/mail-gw/mail-gw.vmx",
		ds + "/Finance [Q3] it's $(touch PWNED)/Finance [Q3] it's $(touch PWNED).vmx",
		ds + "/deep/er/nested.vmx",
	}
	for _, p := range append(slices.Clone(want), ds+"/mail-gw/mail-gw.vmx.lck", ds+"/mail-gw/mail-gw.vmsd") {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A datastore label is a link to the UUID folder; find must follow it.
	if err := os.Symlink(ds, filepath.Join(vols, "ssd store")); err != nil {
		t.Fatal(err)
	}
	out, _ := h.mustRun(t, ok(CmdFindVMX(filepath.Join(vols, "ssd store"), 0)))
	got, err := ParseFindOutput(out)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i] = strings.Replace(got[i], filepath.Join(vols, "ssd store")+"/", ds+"/", 1)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("find through the label\n got %q\nwant %q", got, want)
	}
	out, _ = h.mustRun(t, ok(CmdFindVMX(vols, 3)))
	got, _ = ParseFindOutput(out)
	if len(got) != 2 {
		t.Errorf("find -maxdepth 3 from the volumes folder: %q, want the two VMs at depth 3", got)
	}
	noFile(t, "PWNED", filepath.Dir(h.work))
}

// conv=sync pads the last block: a block size that does not divide the
// size makes the copy longer than the source; CopyBlockSize avoids it.
func TestCopyBlockSizeMatters(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	ok := okFn(t)
	dir := filepath.Dir(h.work)
	src := filepath.Join(dir, "odd.bin")
	if err := os.WriteFile(src, []byte(strings.Repeat("x", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	padded := filepath.Join(dir, "padded")
	h.mustRun(t, ok(CmdCopy(src, padded, 512, CopyOptions{})))
	if st, _ := os.Stat(padded); st == nil || st.Size() != 1024 {
		t.Errorf("bs=512 copy of 1000 bytes: %v, want 1024 bytes (padded)", st)
	}
	exact := filepath.Join(dir, "exact")
	h.mustRun(t, ok(CmdCopy(src, exact, CopyBlockSize(1000, 1<<20), CopyOptions{})))
	if st, _ := os.Stat(exact); st == nil || st.Size() != 1000 {
		t.Errorf("CopyBlockSize copy: %v, want 1000 bytes", st)
	}
}

// Failures anywhere in the pipeline show in the exit status.
func TestCopyFailures(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	ok := okFn(t)
	dir := filepath.Dir(h.work)
	src := filepath.Join(dir, "src.bin")
	if err := os.WriteFile(src, make([]byte, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "hash.fifo")

	// A missing source fails dd; with pipefail the status says so although
	// tee and md5sum succeed.
	_, errOut, rc := h.run(t, ok(CmdCopy(filepath.Join(dir, "missing"), filepath.Join(dir, "d1"), 512, CopyOptions{Hashes: []HashAlg{MD5}})))
	if rc == 0 {
		t.Errorf("copy of a missing source exited 0 (stderr %q)", errOut)
	}

	// A FIFO hasher that stops reading kills tee; the copy is short and the
	// status is not 0.
	h.script(t, "sha256sum", `head -c 1 >/dev/null; echo 0000000000000000000000000000000000000000000000000000000000000000'  -'`)
	_, _, rc = h.run(t, ok(CmdCopy(src, filepath.Join(dir, "d2"), 512, CopyOptions{Hashes: []HashAlg{MD5, SHA256}, FIFO: fifo})))
	if rc == 0 {
		t.Error("copy with a dying FIFO hasher exited 0")
	}
	if _, err := os.Lstat(fifo); !os.IsNotExist(err) {
		t.Errorf("FIFO left behind after a failure: %v", err)
	}

	// A missing hash tool fails before anything is written or created.
	if err := os.Remove(filepath.Join(h.bin, "sha256sum")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "d3")
	out, errOut, rc := h.run(t, ok(CmdCopy(src, dst, 512, CopyOptions{Hashes: []HashAlg{MD5, SHA256}, FIFO: fifo})))
	if rc != 127 || out != "" {
		t.Errorf("missing sha256sum: exit %d, stdout %q; want 127 and nothing", rc, out)
	}
	var he *HostError
	if err := Classify(errOut); !errors.Is(err, ErrCommandNotFound) || !errors.As(err, &he) || he.Name != "sha256sum" {
		t.Errorf("missing sha256sum: Classify(%q) = %v", errOut, err)
	}
	for _, p := range []string{dst, fifo} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after the tool check failed", p)
		}
	}

	// A FIFO path that already exists is not reused.
	if err := os.WriteFile(fifo, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h.script(t, "sha256sum", `cat >/dev/null; echo 0000000000000000000000000000000000000000000000000000000000000000'  -'`)
	if _, _, rc := h.run(t, ok(CmdCopy(src, filepath.Join(dir, "d4"), 512, CopyOptions{Hashes: []HashAlg{MD5, SHA256}, FIFO: fifo}))); rc == 0 {
		t.Error("copy over an existing FIFO path exited 0")
	}
}

// CmdRemoveFIFO removes a named pipe and leaves anything else alone.
func TestRemoveFIFO(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	ok := okFn(t)
	dir := filepath.Dir(h.work)
	fifo := filepath.Join(dir, "left over it's $(touch PWNED).fifo")
	h.mustRun(t, "mkfifo "+Quote(fifo))
	h.mustRun(t, ok(CmdRemoveFIFO(fifo)))
	if _, err := os.Lstat(fifo); !os.IsNotExist(err) {
		t.Errorf("FIFO still there: %v", err)
	}
	regular := filepath.Join(dir, "evidence.vmdk")
	if err := os.WriteFile(regular, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.mustRun(t, ok(CmdRemoveFIFO(regular)))
	if b, err := os.ReadFile(regular); err != nil || string(b) != "keep" {
		t.Errorf("regular file touched: %q, %v", b, err)
	}
	h.mustRun(t, ok(CmdRemoveFIFO(filepath.Join(dir, "absent"))))
	noFile(t, "PWNED", dir)
}
