package esxsim

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/internal/peer"
)

// guestScenario plants files on a VM disk, a USB stick and a LUN, and has
// a large disk whose file system must stay small.
const guestScenario = `
host: {hostname: esx-fs}
devices:
  - {id: naa.600508b1001c7e4d2f9a3b5c6d7e8f99, kind: lun, size: 16MiB,
     files: [{path: /exports/q1 ledger.csv, content: "date,amount\n2024-01-02,1200\n"}]}
  - {id: "mpx.vmhba32:C0:T0:L0", kind: usb, size: 16MiB, partitions: [12MiB],
     files: [{path: /stolen/customers.txt, content: "Alice\nBob\n"}]}
vms:
  - name: Case VM
    guest_os: ubuntu64Guest
    power: "on"
    disks:
      - size: 24MiB
        kind: thin
        files:
          - {path: /home/user/.secret/plan.txt, content: "meet at the dock, 23:00\n", modified: 2024-03-10T22:14:00Z}
          - {path: /tmp/wipe-me.sh, content: "#!/bin/sh\nshred -u /home/user/.secret/plan.txt\n", deleted: true}
          - {path: /etc/hostname, content: "planted-host\n"}
      - {name: big.vmdk, size: 4GiB, kind: thin}
    snapshots:
      - {name: before}
`

func guestHost(t *testing.T) *Host {
	t.Helper()
	sc, err := ParseScenario([]byte(guestScenario))
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(sc, Config{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// writeImage writes n bytes of r to a file (sparse past n up to size).
func writeImage(t *testing.T, r io.ReaderAt, n, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, io.NewSectionReader(r, 0, n)); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return p
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(peer.Require(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// firstPartition reads mmls's first allocated partition: start and length
// in sectors, and its description.
func firstPartition(t *testing.T, img string) (start, length int64, desc string) {
	t.Helper()
	out := runTool(t, "mmls", img)
	m := regexp.MustCompile(`(?m)^\d+:\s+000:000\s+(\d+)\s+(\d+)\s+(\d+)\s+(.+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("mmls shows no partition:\n%s", out)
	}
	start, _ = strconv.ParseInt(m[1], 10, 64)
	end, _ := strconv.ParseInt(m[2], 10, 64)
	length, _ = strconv.ParseInt(m[3], 10, 64)
	if end != start+length-1 {
		t.Fatalf("mmls: end %d is not start+length-1:\n%s", end, out)
	}
	return start, length, strings.TrimSpace(m[4])
}

// findFile runs fls -r -p and returns the inode of path; deleted says
// whether fls marks it deleted.
func findFile(t *testing.T, img, path string) (inode string, deleted bool) {
	t.Helper()
	out := runTool(t, "fls", "-r", "-p", "-o", "2048", img)
	m := regexp.MustCompile(`(?m)^r/r (\*\s*)?(\d+):\t` + regexp.QuoteMeta(path) + `$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("fls -r -p does not list %s:\n%s", path, out)
	}
	return m[2], m[1] != ""
}

func icat(t *testing.T, img, inode string) string {
	t.Helper()
	return runTool(t, "icat", "-o", "2048", img, inode)
}

// TestGuestDiskSleuthKit: a VM disk, a USB stick and a LUN read through
// the simulator hold a partition inside the disk and a file system in
// which The Sleuth Kit finds the planted files, live and deleted, with
// their content.
func TestGuestDiskSleuthKit(t *testing.T) {
	h := guestHost(t)
	cases := []struct {
		path        string
		size        int64
		file, want  string
		partSectors int64
	}{
		{"/vmfs/volumes/datastore1/Case VM/Case VM-flat.vmdk", 24 << 20, "home/user/.secret/plan.txt", "meet at the dock, 23:00\n", 24<<11 - 2048},
		{"/vmfs/devices/disks/mpx.vmhba32:C0:T0:L0", 16 << 20, "stolen/customers.txt", "Alice\nBob\n", 12 << 11},
		{"/vmfs/devices/disks/naa.600508b1001c7e4d2f9a3b5c6d7e8f99", 16 << 20, "exports/q1 ledger.csv", "date,amount\n2024-01-02,1200\n", 16<<11 - 2048},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "disk.raw")
			if err := h.CopyFile(c.path, img); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(img); err != nil || fi.Size() != c.size {
				t.Fatalf("copy of %s: %v, %v bytes, want %d", c.path, err, fi, c.size)
			}
			start, length, desc := firstPartition(t, img)
			if start != 2048 || length != c.partSectors || !strings.Contains(desc, "FAT16") {
				t.Fatalf("partition at %d, %d sectors (%s); want 2048, %d sectors, FAT16", start, length, desc, c.partSectors)
			}
			if start+length > c.size/512 {
				t.Fatalf("partition ends at sector %d, past the disk's %d", start+length, c.size/512)
			}
			inode, del := findFile(t, img, c.file)
			if del {
				t.Fatalf("%s is listed as deleted", c.file)
			}
			if got := icat(t, img, inode); got != c.want {
				t.Fatalf("icat %s (%s): %q, want %q", inode, c.file, got, c.want)
			}
		})
	}
	t.Run("planted over default, and deleted", func(t *testing.T) {
		img := filepath.Join(t.TempDir(), "disk.raw")
		if err := h.CopyFile(cases[0].path, img); err != nil {
			t.Fatal(err)
		}
		inode, _ := findFile(t, img, "etc/hostname")
		if got := icat(t, img, inode); got != "planted-host\n" {
			t.Fatalf("/etc/hostname: %q, want the planted content", got)
		}
		inode, _ = findFile(t, img, "etc/os-release")
		if got := icat(t, img, inode); !strings.Contains(got, `NAME="Ubuntu"`) {
			t.Fatalf("/etc/os-release of an ubuntu64Guest: %q", got)
		}
		out := runTool(t, "fls", "-r", "-p", "-o", "2048", img)
		m := regexp.MustCompile(`(?m)^r/r \* (\d+):\ttmp/(\S+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("fls shows no deleted file in tmp/:\n%s", out)
		}
		t.Logf("deleted file shown as tmp/%s (inode %s)", m[2], m[1])
		if got := icat(t, img, m[1]); got != "#!/bin/sh\nshred -u /home/user/.secret/plan.txt\n" {
			t.Fatalf("icat of the deleted file: %q", got)
		}
	})
}

// TestGuestDiskLargeAndStable: a 4 GiB disk's file system is a small
// partition at its start (the fixed bytes are a few hundred KiB, not
// gigabytes), readable by fls from a sparse image, and the same scenario
// gives the same bytes twice.
func TestGuestDiskLargeAndStable(t *testing.T) {
	h := guestHost(t)
	v := h.vmByName("Case VM")
	big := v.disks[1]
	fixed := 0
	for _, e := range big.baseW.extents {
		fixed += len(e.data)
	}
	if fixed == 0 || fixed > 1<<20 {
		t.Fatalf("the 4 GiB disk holds %d fixed bytes; want some, under 1 MiB", fixed)
	}
	img := writeImage(t, big.base, 2048*512+guestFSMax, big.size)
	start, length, _ := firstPartition(t, img)
	if start != 2048 || length != guestFSMax/512 {
		t.Fatalf("partition at %d, %d sectors; want 2048, %d", start, length, guestFSMax/512)
	}
	inode, _ := findFile(t, img, "data/README.txt")
	if got := icat(t, img, inode); !strings.Contains(got, "Data volume 2 of Case VM") {
		t.Fatalf("data/README.txt: %q", got)
	}

	sum := func(h *Host) string {
		d := h.vmByName("Case VM").disks[0]
		m := md5.New()
		if _, err := io.Copy(m, io.NewSectionReader(d.base, 0, d.size)); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%x", m.Sum(nil))
	}
	a, b := sum(h), sum(guestHost(t))
	if a != b {
		t.Fatalf("same scenario, different disks: %s and %s", a, b)
	}
	t.Logf("24 MiB disk md5 %s on both hosts; 4 GiB disk fixed bytes %d", a, fixed)
}

// TestGuestDiskAfterSnapshot: the running VM wrote after its snapshot;
// the disk as it is now (base plus delta) differs from the base, and its
// file system still lists and reads the planted file.
func TestGuestDiskAfterSnapshot(t *testing.T) {
	h := guestHost(t)
	d := h.vmByName("Case VM").disks[0]
	if d.top == nil {
		t.Fatal("the VM runs on no delta after its snapshot")
	}
	now := writeImage(t, d.chainReader(d.top), d.size, d.size)
	before := writeImage(t, d.base, d.size, d.size)
	a, _ := os.ReadFile(now)
	b, _ := os.ReadFile(before)
	if bytes.Equal(a, b) {
		t.Fatal("the guest wrote nothing after the snapshot; the test shows nothing")
	}
	end := d.baseW.fixedEnd()
	if !bytes.Equal(a[:end], b[:end]) {
		t.Fatalf("the guest's writes reach into the file system's first %d bytes", end)
	}
	inode, _ := findFile(t, now, "home/user/.secret/plan.txt")
	if got := icat(t, now, inode); got != "meet at the dock, 23:00\n" {
		t.Fatalf("icat after the snapshot: %q", got)
	}
}

// TestGuestFilesRejected: planted files that FAT cannot hold are scenario
// errors naming the disk and the path.
func TestGuestFilesRejected(t *testing.T) {
	for _, c := range []struct{ files, want string }{
		{`[{path: relative.txt}]`, `path "relative.txt" must be absolute`},
		{`[{path: /a/../b}]`, `has an empty, . or .. part`},
		{`[{path: "/what?.txt"}]`, `FAT names cannot hold`},
	} {
		y := "vms:\n  - name: x\n    disks:\n      - {size: 8MiB, files: " + c.files + "}\n"
		_, err := ParseScenario([]byte(y))
		// The trainer's message names the disk and the path: the product.
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `vm "x" disk x.vmdk`) {
			t.Errorf("files %s: error %v, want one naming the disk and %q", c.files, err, c.want)
		}
	}
	sc, err := ParseScenario([]byte("vms:\n  - name: x\n    disks:\n      - {size: 4MiB, files: [{path: /big.bin, content: " +
		strconv.Quote(strings.Repeat("x", 3<<20)) + "}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	// What the trainer should do is the message's point: text.
	if _, err := New(sc, Config{WorkDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "plant smaller files") {
		t.Fatalf("a 3 MiB file on a 4 MiB disk: %v, want a file-system-full error", err)
	}
}

// TestShortNames: 8.3 names as Windows derives them.
func TestShortNames(t *testing.T) {
	root := &fatNode{dir: true}
	for _, n := range []string{"HOSTS", "notes.txt", "os-release", "q1 ledger.csv", ".bashrc", "Notes.TXT.bak", "notes~1.txt"} {
		root.children = append(root.children, &fatNode{name: n})
	}
	root.name83()
	want := []struct {
		short string
		lfn   bool
	}{{"HOSTS      ", false}, {"NOTES   TXT", true}, {"OS-REL~1   ", true}, {"Q1LEDG~1CSV", true}, {"BASHRC~1   ", true}, {"NOTEST~1BAK", true}, {"NOTES~1 TXT", true}}
	for i, c := range root.children {
		if string(c.short[:]) != want[i].short || c.lfn != want[i].lfn {
			t.Errorf("%q: short %q lfn %v, want %q %v", c.name, c.short[:], c.lfn, want[i].short, want[i].lfn)
		}
	}
}

// TestGuestDiskTooSmall: a disk too small for FAT16 keeps a partition
// that fits it, with generated data; a disk of 1 MiB or less has an
// empty partition table.
func TestGuestDiskTooSmall(t *testing.T) {
	vol := fatVolume{label: "x", files: []GuestFile{{Path: "/a.txt", Content: "a"}}}
	for _, c := range []struct {
		size    int64
		entries int
	}{{2 << 20, 1}, {1 << 20, 0}} {
		g := newGen(c.size, 7, 0, nil)
		if err := layGuest(g, nil, vol); err != nil {
			t.Fatal(err)
		}
		if len(g.extents) != 1 || len(g.extents[0].data) != 512 {
			t.Fatalf("%d bytes: %d extents, want the partition table alone", c.size, len(g.extents))
		}
		mbr := make([]byte, 512)
		g.ReadAt(mbr, 0)
		n := 0
		for i := range 4 {
			e := mbr[446+16*i:]
			if e[4] == 0 {
				continue
			}
			n++
			start, secs := binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:])
			if e[4] != partLinux || start != 2048 || int64(start+secs)*512 != c.size {
				t.Errorf("%d bytes: partition type %#x at %d, %d sectors; want 0x83 from 2048 to the disk's end", c.size, e[4], start, secs)
			}
		}
		if n != c.entries || mbr[510] != 0x55 || mbr[511] != 0xaa {
			t.Errorf("%d bytes: %d partitions, signature %x; want %d and 55aa", c.size, n, mbr[510:], c.entries)
		}
	}
}

// TestGuestDiskFsck: dosfstools' fsck.fat finds nothing to repair in a
// generated file system, and mtools (which drops long names whose
// checksum does not match their 8.3 entry) reads planted files by their
// long names.
func TestGuestDiskFsck(t *testing.T) {
	fsck := peer.Require(t, "fsck.fat")
	mtype := peer.Require(t, "mtype")
	h := guestHost(t)
	usb := h.device("mpx.vmhba32:C0:T0:L0").data
	for _, c := range []struct {
		disk       *genContent
		file, want string
	}{
		{h.vmByName("Case VM").disks[0].baseW, "/home/user/.secret/plan.txt", "meet at the dock, 23:00\n"},
		{h.vmByName("Case VM").disks[1].baseW, "/data/README.txt", "Data volume 2 of Case VM.\r\nDo not store backups here.\r\n"},
		{usb, "/stolen/customers.txt", "Alice\nBob\n"},
	} {
		n := min(c.disk.size-2048*512, guestFSMax)
		part := writeImage(t, io.NewSectionReader(c.disk, 2048*512, n), n, n)
		// Any finding adds lines between the banner and the summary.
		out, err := exec.Command(fsck, "-n", part).CombinedOutput()
		if err != nil || len(lines(string(out))) != 2 {
			t.Fatalf("fsck.fat -n: %v\n%s", err, out)
		}
		if !regexp.MustCompile(`files, \d+/\d+ clusters`).Match(out) {
			t.Fatalf("fsck.fat -n did not get to its summary:\n%s", out)
		}
		cmd := exec.Command(mtype, "-i", part, "::"+c.file)
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		got, err := cmd.CombinedOutput()
		if err != nil || string(got) != c.want {
			t.Fatalf("mtype %s: %v: %q, want %q", c.file, err, got, c.want)
		}
	}
}

// TestDatastoreLUNUntouched: a LUN that backs a datastore holds VMFS on a
// real host, so the simulator lays no guest file system on it; the LUN
// beside it gets one.
func TestDatastoreLUNUntouched(t *testing.T) {
	sc, err := ParseScenario([]byte("datastores:\n  - {name: ds1, device: naa.01}\ndevices:\n  - {id: naa.01, kind: lun, size: 16MiB}\n  - {id: naa.02, kind: lun, size: 16MiB}\n"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(sc, Config{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if n := len(h.device("naa.01").data.extents); n != 0 {
		t.Errorf("the datastore's LUN has %d fixed extents, want none", n)
	}
	if n := len(h.device("naa.02").data.extents); n != 2 {
		t.Errorf("the other LUN has %d fixed extents, want 2 (partition table, file system)", n)
	}
}
