package esxi

import (
	"strings"
	"testing"
	"time"
)

func TestParseDDStatus(t *testing.T) {
	t.Parallel()
	st, err := ParseDDStatus("dd: error reading '/vmfs/devices/disks/naa.x': Input/output error\n2047+1 records in\n2048+0 records out\n1073741824 bytes (1.0GB) copied, 9.1 seconds, 112.5MB/s\ntee: x\n")
	if err != nil {
		t.Fatal(err)
	}
	if st.FullIn != 2047 || st.PartialIn != 1 || st.FullOut != 2048 || st.PartialOut != 0 || st.Bytes != 1073741824 ||
		len(st.Errors) != 1 || len(st.Other) != 1 {
		t.Errorf("%+v", st)
	}
	if st, err := ParseDDStatus("1+0 records in\n1+0 records out\n"); err != nil || st.Bytes != -1 {
		t.Errorf("busybox form: %+v, %v", st, err)
	}
	for _, in := range []string{"", "1+0 records in\n", "1+0 records in\n1+0 records in\n1+0 records out\n", "99999999999999999999+0 records in\n1+0 records out\n"} {
		if _, err := ParseDDStatus(in); err == nil {
			t.Errorf("ParseDDStatus(%q) accepted", in)
		}
	}
}

func TestParseSums(t *testing.T) {
	t.Parallel()
	md := "d41d8cd98f00b204e9800998ecf8427e"
	sha := "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
	sums, err := ParseSums(md + "  -\n" + sha + " *name with  spaces\n\n")
	if err != nil || len(sums) != 2 || sums[0] != (Sum{MD5, md, "-"}) || sums[1].Alg != SHA256 ||
		sums[1].Hex != strings.ToLower(sha) || sums[1].Name != "name with  spaces" {
		t.Errorf("%+v, %v", sums, err)
	}
	if got, err := CopyHashes(sha+"  -\n"+md+"  -\n", []HashAlg{MD5, SHA256}); err != nil || got[MD5] != md {
		t.Errorf("two hashes in either order: %v %v", got, err)
	}
	for _, tc := range []struct {
		out  string
		algs []HashAlg
	}{
		{"", []HashAlg{MD5}},
		{md + "  -\n" + md + "  -\n", []HashAlg{MD5}},
		{md + "  -\n", []HashAlg{SHA256}},
		{"xyz  -\n", []HashAlg{MD5}},
		{"sh: md5sum: not found\n", []HashAlg{MD5}},
		{strings.Repeat("g", 32) + "  -\n", []HashAlg{MD5}},
	} {
		if _, err := CopyHashes(tc.out, tc.algs); err == nil {
			t.Errorf("CopyHashes(%q, %v) accepted", tc.out, tc.algs)
		}
	}
	if _, err := ParseHash(md+"  -\n", MD5); err != nil {
		t.Error(err)
	}
	if SHA512.Tool() != "sha512sum" || HashAlg("crc").Tool() != "" || SHA1.HexLen() != 40 {
		t.Error("HashAlg")
	}
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	st, err := ParseStat("81a4 1073741824 2048 512 0 0 1 4195524 1700000000 1700000100 1700000200\n")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Mode.IsRegular() || st.Mode.IsDir() || st.Mode.Perm() != 0o644 || st.Size != 1<<30 || st.Blocks != 2048 ||
		st.BlockSize != 512 || st.Inode != 4195524 || st.Links != 1 || !st.Mtime.Equal(time.Unix(1700000100, 0)) {
		t.Errorf("%+v", st)
	}
	for _, in := range []string{"", "81a4 1\n", "zz 1 2 3 4 5 6 7 8 9 10\n", "81a4 -1 2 512 0 0 1 1 1 1 1\n", "81a4 1 2 512 0 0 1 1 1 1 1\n81a4 1 2 512 0 0 1 1 1 1 1\n"} {
		if _, err := ParseStat(in); err == nil {
			t.Errorf("ParseStat(%q) accepted", in)
		}
	}
	if !FileMode(0x41ed).IsDir() || !FileMode(0xa1ff).IsSymlink() || !FileMode(0x61b0).IsDevice() {
		t.Error("FileMode kinds")
	}
}

func TestParseFolderListing(t *testing.T) {
	t.Parallel()
	es, err := ParseFolderListing("81a4 10 8 1700000000 a b\n c\x0041ed 4096 8 1700000001 dir\x00")
	if err != nil || len(es) != 2 || es[0].Name != "a b\n c" || es[0].Size != 10 || !es[1].Mode.IsDir() {
		t.Errorf("%+v, %v", es, err)
	}
	for _, in := range []string{"81a4 10 8 1700000000 a", "81a4 10 8 a\x00", "81a4 10 8 1 \x00", "81a4 1 1 1 a/b\x00"} {
		if _, err := ParseFolderListing(in); err == nil {
			t.Errorf("ParseFolderListing(%q) accepted", in)
		}
	}
	if es, err := ParseFolderListing(""); err != nil || es != nil {
		t.Errorf("empty folder: %v %v", es, err)
	}
}

func TestParseFindOutput(t *testing.T) {
	t.Parallel()
	ps, err := ParseFindOutput("/vmfs/volumes/a/b c/b c.vmx\n\n/vmfs/volumes/a/d.vmx\n")
	if err != nil || len(ps) != 2 || ps[0] != "/vmfs/volumes/a/b c/b c.vmx" {
		t.Errorf("%q, %v", ps, err)
	}
	if _, err := ParseFindOutput("find: /x: Permission denied\n"); err == nil {
		t.Error("error line accepted as a path")
	}
}

func TestJoinHostPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ dir, name, want string }{
		{"/vmfs/volumes/ds/vm", "vm.vmdk", "/vmfs/volumes/ds/vm/vm.vmdk"},
		{"/vmfs/volumes/ds/vm/", "sub/x.vmdk", "/vmfs/volumes/ds/vm/sub/x.vmdk"},
		{"/vmfs/volumes/ds/vm", "/vmfs/volumes/other/y.vmdk", "/vmfs/volumes/other/y.vmdk"},
		{"/vmfs/volumes/ds/vm", "../z.vmdk", "/vmfs/volumes/ds/vm/../z.vmdk"},
		{"/d", "", ""},
	} {
		if got := JoinHostPath(tc.dir, tc.name); got != tc.want {
			t.Errorf("JoinHostPath(%q, %q) = %q, want %q", tc.dir, tc.name, got, tc.want)
		}
	}
}
