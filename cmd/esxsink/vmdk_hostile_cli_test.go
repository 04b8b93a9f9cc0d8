package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Crafted VMDKs for each class of hostile input seen in the wild or in
// attacks: none may panic, each must exit 1 with a message naming the
// file and the field at fault, and each must answer in well under a
// second whatever size the file declares (the bound below is generous for
// a shared machine: the point is that time follows the file, not the
// declaration). Every file is built here, byte by byte.

// hostileLimit bounds one esxsink run on a crafted file.
const hostileLimit = 2 * time.Second

const (
	m54 = 1<<54 - 1 // the largest sector count older checks allowed
)

// descriptor renders a text descriptor: header lines, then extents.
func descriptor(createType string, header []string, extents ...string) []byte {
	var b strings.Builder
	b.WriteString("# Disk DescriptorFile\nversion=1\nCID=11223344\nparentCID=ffffffff\n")
	fmt.Fprintf(&b, "createType=%q\n", createType)
	for _, h := range header {
		b.WriteString(h + "\n")
	}
	b.WriteString("\n# Extent description\n")
	for _, e := range extents {
		b.WriteString(e + "\n")
	}
	b.WriteString("\n# The Disk Data Base\n#DDB\nddb.adapterType = \"lsilogic\"\n")
	return []byte(b.String())
}

// kdmv builds a hosted sparse header sector.
func kdmv(capacity, grain uint64, gtes uint32, gdSector, overhead uint64) []byte {
	b := make([]byte, 512)
	le := binary.LittleEndian
	le.PutUint32(b, 0x564d444b)
	le.PutUint32(b[4:], 1)
	le.PutUint32(b[8:], 1) // valid newline check
	le.PutUint64(b[12:], capacity)
	le.PutUint64(b[20:], grain)
	le.PutUint32(b[44:], gtes)
	le.PutUint64(b[56:], gdSector)
	le.PutUint64(b[64:], overhead)
	copy(b[73:], "\n \r\n")
	return b
}

// cowd builds a COWD header (2048 bytes).
func cowd(capacity, grain, gdSector, gdEntries, free uint32) []byte {
	b := make([]byte, 2048)
	le := binary.LittleEndian
	le.PutUint32(b, 0x44574f43)
	le.PutUint32(b[4:], 1)
	le.PutUint32(b[8:], 3)
	le.PutUint32(b[12:], capacity)
	le.PutUint32(b[16:], grain)
	le.PutUint32(b[20:], gdSector)
	le.PutUint32(b[24:], gdEntries)
	le.PutUint32(b[28:], free)
	return b
}

// sesparse builds a seSparse file: header, volatile header, then
// whatever the fields say (set lists field index -> value).
func sesparse(size int, set map[int]uint64) []byte {
	b := make([]byte, size)
	le := binary.LittleEndian
	f := map[int]uint64{0: 0xcafebabe, 1: 0x0000000200000001, 2: 2048, 3: 8, 4: 64,
		10: 1, 11: 1, 16: 2, 17: 1, 18: 3, 19: 64, 24: 67, 25: 2048}
	for k, v := range set {
		f[k] = v
	}
	for i, v := range f {
		le.PutUint64(b[i*8:], v)
	}
	le.PutUint64(b[512:], 0xcafecafe)
	return b
}

func le32s(vals ...uint32) []byte {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// at places part at byte off of a zero buffer of size bytes.
func at(size int, parts map[int][]byte) []byte {
	b := make([]byte, size)
	for off, p := range parts {
		copy(b[off:], p)
	}
	return b
}

type hostileCase struct {
	name  string
	files map[string][]byte // written under the case folder; "outside/..." next to it
	disk  string
	cmds  []string // subcommands expected to fail (default: info, verify, convert)
	want  []string // words the message must hold (the file, the field)
	setup func(t *testing.T, dir string)
}

func hostileCases() []hostileCase {
	m := uint64(m54)
	vmfs := func(extents ...string) []byte { return descriptor("vmfs", nil, extents...) }
	// 262,144 directory entries, all naming the table at sector 2: a 1 MB
	// file whose map would take 134 M lookups to walk.
	shared := make([]uint32, 262144)
	for i := range shared {
		shared[i] = 2048 + 2
	}
	// Every entry of 64 tables points at the same 2 MiB grain of a 3 MiB
	// file: the sector bitmap walk cost entries x grain size.
	quad := make([]uint32, 64*4096)
	for i := range quad {
		quad[i] = 2048
	}
	quadGD := make([]uint32, 64)
	for i := range quadGD {
		quadGD[i] = uint32(4 + i*32) // tables of 4096 entries = 32 sectors, from sector 4
	}
	// A COWD delta whose 4096 entries all name the grain at sector 37: 19
	// KB that would convert to 2 MiB of repeated "data".
	over := make([]uint32, 4096)
	for i := range over {
		over[i] = 37
	}
	return []hostileCase{
		{name: "text file", files: map[string][]byte{"notes.vmdk": []byte("hello, examiner\n")}, disk: "notes.vmdk",
			want: []string{"notes.vmdk", "line 1", "neither key=value"}},
		{name: "empty file", files: map[string][]byte{"empty.vmdk": {}}, disk: "empty.vmdk",
			want: []string{"empty.vmdk", "no createType"}},
		{name: "flat data file opened directly", files: map[string][]byte{"d-flat.vmdk": at(4096, map[int][]byte{0: {0xeb, 0x63, 0x90}})}, disk: "d-flat.vmdk",
			want: []string{"d-flat.vmdk", "not a descriptor", "binary"}},
		{name: "COWD data file opened directly", files: map[string][]byte{"d-000001-delta.vmdk": cowd(8, 1, 4, 1, 5)}, disk: "d-000001-delta.vmdk",
			want: []string{"d-000001-delta.vmdk", "COWD", "not a descriptor"}},
		{name: "seSparse data file opened directly", files: map[string][]byte{"d-000001-sesparse.vmdk": sesparse(4096, nil)}, disk: "d-000001-sesparse.vmdk",
			want: []string{"d-000001-sesparse.vmdk", "seSparse data file", "not a descriptor"}},
		{name: "negative sector count", files: map[string][]byte{"neg.vmdk": vmfs(`RW -2048 VMFS "neg-flat.vmdk"`)}, disk: "neg.vmdk",
			want: []string{"neg.vmdk", "line 8", "extent size"}},
		{name: "20-digit sector count", files: map[string][]byte{"big.vmdk": vmfs(`RW 18446744073709551615 VMFS "big-flat.vmdk"`)}, disk: "big.vmdk",
			want: []string{"big.vmdk", "line 8", "extent size"}},
		{name: "child of a bad parent", files: map[string][]byte{
			"child.vmdk":       descriptor("vmfsSparse", []string{`parentFileNameHint="bad.vmdk"`}, `RW 8 VMFSSPARSE "child-delta.vmdk"`),
			"child-delta.vmdk": cat(cowd(8, 1, 4, 1, 5), le32s(0), make([]byte, 508)),
			"bad.vmdk":         []byte("createType=\"vmfs\"\nRW 8 VMFS\n")},
			disk: "child.vmdk", want: []string{"bad.vmdk", "line 2", "fields"}},
		{name: "traversal by extent", files: map[string][]byte{"t.vmdk": descriptor("monolithicFlat", nil, `RW 2 FLAT "../../../../../../../../etc/passwd" 0`)},
			disk: "t.vmdk", want: []string{"t.vmdk", "extent line 8", "../../../../../../../../etc/passwd", "outside the root"}},
		{name: "traversal by VMFS extent into a sibling folder", files: map[string][]byte{
			"vm/t.vmdk": vmfs(`RW 8 VMFS "../outside/secret-flat.vmdk"`), "outside/secret-flat.vmdk": make([]byte, 4096)},
			disk: "vm/t.vmdk", want: []string{"t.vmdk", "extent line 8", "secret-flat.vmdk", "outside the root"}},
		{name: "traversal by parent", files: map[string][]byte{
			"vm/c.vmdk":         descriptor("vmfsSparse", []string{`parentFileNameHint="../outside/base.vmdk"`}, `RW 8 VMFSSPARSE "c-delta.vmdk"`),
			"vm/c-delta.vmdk":   cat(cowd(8, 1, 4, 1, 5), le32s(0), make([]byte, 508)),
			"outside/base.vmdk": vmfs(`RW 8 VMFS "base-flat.vmdk"`), "outside/base-flat.vmdk": make([]byte, 4096)},
			disk: "vm/c.vmdk", want: []string{"c.vmdk", "parentFileNameHint", "../outside/base.vmdk", "outside the root"}},
		{name: "traversal by symbolic link", files: map[string][]byte{"vm/l.vmdk": vmfs(`RW 8 VMFS "l-flat.vmdk"`), "outside/secret": make([]byte, 4096)},
			setup: func(t *testing.T, dir string) {
				if err := os.Symlink(filepath.Join(dir, "outside", "secret"), filepath.Join(dir, "vm", "l-flat.vmdk")); err != nil {
					t.Skip("no symbolic links here:", err)
				}
			},
			disk: "vm/l.vmdk", want: []string{"l.vmdk", "extent line 8", "l-flat.vmdk", "symbolic link"}},
		{name: "overflow in extent sums", files: map[string][]byte{"sum.vmdk": descriptor("monolithicFlat", nil,
			fmt.Sprintf(`RW %d FLAT "a-flat.vmdk" 0`, m), fmt.Sprintf(`RW %d FLAT "a-flat.vmdk" 0`, m), `RW 4 FLAT "a-flat.vmdk" 0`), "a-flat.vmdk": make([]byte, 2048)},
			disk: "sum.vmdk", want: []string{"sum.vmdk", "line 8", "extent size", "largest disk"}},
		{name: "extent sizes adding up past the limit", files: map[string][]byte{"sum2.vmdk": descriptor("monolithicFlat", nil,
			`RW 68719476736 FLAT "a-flat.vmdk" 0`, `RW 68719476736 FLAT "a-flat.vmdk" 0`, `RW 68719476736 FLAT "a-flat.vmdk" 0`), "a-flat.vmdk": make([]byte, 2048)},
			disk: "sum2.vmdk", want: []string{"sum2.vmdk", "line 10", "add up"}},
		{name: "GD sizing: capacity 2^54-1 in a 1 KB sparse header", files: map[string][]byte{"gd.vmdk": cat(kdmv(m, 1<<21, 4096, 1, 2), make([]byte, 512))},
			disk: "gd.vmdk", want: []string{"gd.vmdk", "capacity", "largest disk"}},
		{name: "GD past the end of the file", files: map[string][]byte{"gd2.vmdk": cat(kdmv(1<<37, 128, 512, 1, 2), make([]byte, 512))},
			disk: "gd2.vmdk", want: []string{"gd2.vmdk", "grain directory", "past the end of the file"}},
		{name: "seSparse offsets near 2^54", files: map[string][]byte{
			"se.vmdk":          descriptor("seSparse", nil, `RW 2048 SESPARSE "se-sesparse.vmdk"`),
			"se-sesparse.vmdk": sesparse(67*512, map[int]uint64{18: m - 100})},
			disk: "se.vmdk", want: []string{"se-sesparse.vmdk", "grainTablesOffset", "past the end of the file"}},
		{name: "8 EiB ZERO extent", files: map[string][]byte{"z.vmdk": descriptor("monolithicFlat", nil, fmt.Sprintf("RW %d ZERO", m))},
			disk: "z.vmdk", want: []string{"z.vmdk", "line 8", "largest disk"}},
		{name: "512 PiB hosted sparse", files: map[string][]byte{"p.vmdk": cat(kdmv(1<<50, 128, 512, 1, 2), make([]byte, 512))},
			disk: "p.vmdk", want: []string{"p.vmdk", "capacity", "largest disk"}},
		{name: "shared grain tables", files: map[string][]byte{"sh.vmdk": cat(kdmv(262144*512*128, 128, 512, 1, 2050), le32s(shared...), make([]byte, 2048))},
			disk: "sh.vmdk", want: []string{"sh.vmdk", "grain directory entries 0 and 1", "same grain table"}},
		{name: "quadratic overlaps", files: map[string][]byte{"q.vmdk": at(2048*512+4096*512, map[int][]byte{
			0: kdmv(64*4096*4096, 4096, 4096, 1, 2048), 512: le32s(quadGD...), 4 * 512: le32s(quad...)})},
			disk: "q.vmdk", cmds: []string{"verify", "convert"}, want: []string{"q.vmdk", "grain table 0 entry 1", "overlaps"}},
		{name: "overlapping grains (expansion)", files: map[string][]byte{
			"o.vmdk":       descriptor("vmfsSparse", nil, `RW 4096 VMFSSPARSE "o-delta.vmdk"`),
			"o-delta.vmdk": at(38*512, map[int][]byte{0: cowd(4096, 1, 4, 1, 38), 4 * 512: le32s(5), 5 * 512: le32s(over...), 37 * 512: []byte("shared grain")})},
			disk: "o.vmdk", cmds: []string{"verify", "convert"}, want: []string{"o-delta.vmdk", "grain table 0 entry 1", "overlap"}},
	}
}

// TestVMDKHostileInputs runs info, verify and convert on each crafted
// disk and checks exit 1, the message and the time taken.
func TestVMDKHostileInputs(t *testing.T) {
	t.Parallel()
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			top := t.TempDir()
			dir := filepath.Join(top, "evidence-copy")
			for name, b := range c.files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if c.setup != nil {
				c.setup(t, dir)
			}
			cmds := c.cmds
			if cmds == nil {
				cmds = []string{"info", "verify", "convert"}
			}
			disk := filepath.Join(dir, filepath.FromSlash(c.disk))
			for _, cmd := range cmds {
				args := []string{"vmdk", cmd, disk}
				if cmd == "convert" {
					args = []string{"vmdk", "convert", "--quiet", "--hash", "none", disk, filepath.Join(top, "out.raw")}
				}
				start := time.Now()
				out, code := esx(t, dir, args...)
				took := time.Since(start)
				if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
					t.Fatalf("%s panicked:\n%s", cmd, out)
				}
				if code != 1 {
					t.Errorf("%s: exit %d, want 1\n%s", cmd, code, out)
				}
				for _, w := range c.want {
					if !strings.Contains(out, w) {
						t.Errorf("%s: the message does not name %q:\n%s", cmd, w, out)
					}
				}
				if took > hostileLimit {
					t.Errorf("%s took %v, want under %v: time must follow the file's size, not what it declares", cmd, took, hostileLimit)
				}
				if _, err := os.Stat(filepath.Join(top, "out.raw")); err == nil {
					t.Errorf("%s left a partial output behind", cmd)
				}
			}
		})
	}
}

// TestVMDKHugeButValid: a 2 KB COWD delta declaring 2 TiB (the most COWD
// can) is a valid, empty disk: info and verify answer at once, and
// convert --hash none writes a sparse 2 TiB image without reading or
// hashing 2 TiB of zeros. The shared grains of the overlap case convert
// only with --allow-overlapping-grains, with a warning.
func TestVMDKHugeButValid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// grain 2^21 sectors: one table of 4096 entries covers 2^33 sectors.
	os.WriteFile(filepath.Join(dir, "h.vmdk"), descriptor("vmfsSparse", nil, `RW 4294967295 VMFSSPARSE "h-delta.vmdk"`), 0o644)
	os.WriteFile(filepath.Join(dir, "h-delta.vmdk"), cat(cowd(0xffffffff, 1<<21, 4, 1, 5), le32s(0), make([]byte, 508)), 0o644)
	disk := filepath.Join(dir, "h.vmdk")
	for _, args := range [][]string{{"info", disk}, {"verify", disk}} {
		start := time.Now()
		out, code := esx(t, dir, append([]string{"vmdk"}, args...)...)
		if code != 0 || time.Since(start) > hostileLimit {
			t.Errorf("vmdk %s: exit %d after %v\n%s", args[0], code, time.Since(start), out)
		}
	}
	raw := filepath.Join(dir, "h.raw")
	start := time.Now()
	out, code := esx(t, dir, "vmdk", "convert", "--quiet", "--json", "--hash", "none", disk, raw)
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("convert: exit %d\n%s", code, out)
	}
	if took > hostileLimit {
		t.Errorf("convert --hash none of an empty 2 TiB disk took %v", took)
	}
	var res struct {
		Size        int64 `json:"size"`
		HashedBytes int64 `json:"hashed_bytes"`
		Digest      struct {
			Hashes map[string]string `json:"hashes"`
		} `json:"digest"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Size != 0xffffffff*512 || res.HashedBytes != 0 || len(res.Digest.Hashes) != 0 {
		t.Errorf("--hash none: size %d, hashed %d bytes, hashes %v; want 2 TiB, nothing hashed, no hashes", res.Size, res.HashedBytes, res.Digest.Hashes)
	}
	if st, err := os.Stat(raw); err != nil || st.Size() != res.Size {
		t.Errorf("output: %v, size %v", err, st)
	}

	// The overlap case converts only when asked, and says so.
	c := hostileCases()[len(hostileCases())-1]
	for name, b := range c.files {
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	out, code = esx(t, dir, "vmdk", "convert", "--quiet", "--hash", "none", "--allow-overlapping-grains", filepath.Join(dir, "o.vmdk"), filepath.Join(dir, "o.raw"))
	if code != 0 || !strings.Contains(out, "warning") || !strings.Contains(out, "share sectors") {
		t.Errorf("convert --allow-overlapping-grains: exit %d\n%s", code, out)
	}
}
