package esxsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// GuestFile is a file inside a simulated disk's file system: trainers
// plant evidence for students to find with The Sleuth Kit (fls, icat).
type GuestFile struct {
	// Path is absolute inside the guest's file system (/home/user/plan.txt).
	Path    string `yaml:"path"`
	Content string `yaml:"content"`
	// Modified is the file's time; default a day before the scenario's
	// start.
	Modified time.Time `yaml:"modified"`
	// Deleted leaves the file deleted: its directory entry marked free and
	// its clusters unallocated, the data still in place (fls shows it with
	// a *, icat recovers it).
	Deleted bool `yaml:"deleted"`
}

// guestFSMax caps a generated file system: the structures and files sit
// in its first clusters, so it costs memory for what it holds, not for
// its size; the cap keeps a 4 TiB disk's partition small and honest.
const guestFSMax = 64 << 20

// partStart is where the first partition starts, in sectors (1 MiB, as
// every partitioning tool since Vista aligns it).
const partStart = 2048

// checkGuestFiles validates a disk's or device's planted files, so a
// typo in a scenario is an error rather than a file students never see.
func checkGuestFiles(where string, files []GuestFile) error {
	for i, f := range files {
		if !strings.HasPrefix(f.Path, "/") || strings.HasSuffix(f.Path, "/") {
			return fmt.Errorf("%s: files[%d]: path %q must be absolute and name a file (/home/user/plan.txt)", where, i, f.Path)
		}
		for _, part := range strings.Split(f.Path[1:], "/") {
			if part == "" || part == "." || part == ".." {
				return fmt.Errorf("%s: files[%d]: path %q has an empty, . or .. part", where, i, f.Path)
			}
			if !utf8.ValidString(part) || utf8.RuneCountInString(part) > 255 {
				return fmt.Errorf("%s: files[%d]: name %q is not UTF-8 or longer than FAT's 255 characters", where, i, part)
			}
			if strings.ContainsAny(part, "\\:*?\"<>|") || strings.ContainsFunc(part, func(r rune) bool { return r < 0x20 || r == 0x7f }) || strings.TrimRight(part, ". ") != part {
				return fmt.Errorf("%s: files[%d]: name %q: FAT names cannot hold \\ : * ? \" < > |, control characters, or end in a dot or space", where, i, part)
			}
		}
	}
	return nil
}

// mbrPart is one primary partition.
type mbrPart struct {
	start, sectors int64
	typ            byte
}

// mbrSector is a DOS partition table with the given partitions.
func mbrSector(seed uint64, parts []mbrPart) []byte {
	b := make([]byte, sectorSize)
	copy(b[3:], "ESXSIM generated disk, seed "+fmt.Sprint(seed))
	binary.LittleEndian.PutUint32(b[440:], uint32(splitmix(seed^0x4d4252)))
	for i, p := range parts[:min(len(parts), 4)] {
		e := b[446+16*i:]
		chs(e[1:4], p.start)
		e[4] = p.typ
		chs(e[5:8], p.start+p.sectors-1)
		binary.LittleEndian.PutUint32(e[8:], uint32(p.start))
		binary.LittleEndian.PutUint32(e[12:], uint32(p.sectors))
	}
	b[510], b[511] = 0x55, 0xaa
	return b
}

// chs writes an LBA as cylinder/head/sector for the 255/63 geometry the
// descriptors declare, saturating as fdisk does past 8 GiB.
func chs(b []byte, lba int64) {
	c, h, s := lba/(255*63), (lba/63)%255, lba%63+1
	if c > 1023 {
		c, h, s = 1023, 254, 63
	}
	b[0], b[1], b[2] = byte(h), byte(s)|byte(c>>8)<<6, byte(c)
}

const (
	partFAT16 = 0x0e // W95 FAT16 (LBA)
	partLinux = 0x83
)

// layGuest writes a partition table over g and a FAT16 file system with
// vol's files into the first partition. parts are the partitions' sizes
// in bytes (a device's partitions:); empty means one partition from 1 MiB
// to the disk's end, no larger than guestFSMax. A disk too small for
// FAT16 keeps its partition with generated data in it.
func layGuest(g *genContent, parts []int64, vol fatVolume) error {
	diskSecs := g.size / sectorSize
	if diskSecs <= partStart {
		g.extents = []extent{{0, mbrSector(g.seed, nil)}}
		return nil
	}
	if len(parts) == 0 {
		parts = []int64{min(g.size-partStart*sectorSize, guestFSMax)}
	}
	var table []mbrPart
	at := int64(partStart)
	for _, p := range parts {
		n := min(p/sectorSize, diskSecs-at)
		if n <= 0 {
			break
		}
		table = append(table, mbrPart{start: at, sectors: n, typ: partLinux})
		at += n
	}
	fsSecs := min(table[0].sectors, guestFSMax/sectorSize)
	partOff := table[0].start * sectorSize
	img, err := buildFAT16(fsSecs, table[0].start, vol, func(p []byte, off int64) { g.ReadAt(p, partOff+off) })
	switch {
	case errors.Is(err, errFATTooSmall):
		img = nil
	case err != nil:
		return err
	default:
		table[0].typ = partFAT16
	}
	g.extents = []extent{{0, mbrSector(g.seed, table)}}
	if img != nil {
		g.extents = append(g.extents, extent{partOff, img})
	}
	return nil
}

// guestDiskGen makes the generated base of a VM's virtual disk: a
// partition table and a FAT16 file system with the guest's usual files
// and the scenario's planted ones, over generated data.
func (h *Host) guestDiskGen(v VMSpec, d DiskSpec, index int, size int64, zeroPermille int) (*genContent, error) {
	g := newGen(size, d.Seed, zeroPermille, nil)
	vol := fatVolume{label: v.Name, serial: uint32(splitmix(d.Seed ^ 0x766f6c)), when: h.sc.Start.Add(-30 * 24 * time.Hour)}
	vol.files = append(defaultGuestFiles(v, index, vol.when), plantedAt(d.Files, h.sc.Start)...)
	if err := layGuest(g, nil, vol); err != nil {
		return nil, fmt.Errorf("disk %s: %w", d.Name, err)
	}
	return g, nil
}

// deviceGen makes a device's generated data. LUNs and USB disks hold a
// partition table and a FAT16 file system; the boot disk and LUNs that
// back a datastore (VMFS, which no guest file system tool reads) are
// generated data alone.
func (h *Host) deviceGen(d DeviceSpec) (*genContent, error) {
	g := newGen(int64(d.Size), d.Seed, 500, nil)
	if d.Kind != "lun" && d.Kind != "usb" {
		return g, nil
	}
	for _, ds := range h.sc.Datastores {
		if ds.Device == d.ID || (ds.Device != "" && ds.Device == d.VML) {
			return g, nil
		}
	}
	when := h.sc.Start.Add(-60 * 24 * time.Hour)
	vol := fatVolume{label: map[string]string{"usb": d.Vendor, "lun": "DATA"}[d.Kind], serial: uint32(splitmix(d.Seed ^ 0x766f6c)), when: when}
	vol.files = append(defaultDeviceFiles(d, when), plantedAt(d.Files, h.sc.Start)...)
	parts := make([]int64, len(d.Partitions))
	for i, p := range d.Partitions {
		parts[i] = int64(p)
	}
	if err := layGuest(g, parts, vol); err != nil {
		return nil, fmt.Errorf("device %s: %w", d.ID, err)
	}
	return g, nil
}

// plantedAt gives planted files without a time the day before start.
func plantedAt(files []GuestFile, start time.Time) []GuestFile {
	out := make([]GuestFile, len(files))
	for i, f := range files {
		if f.Modified.IsZero() {
			f.Modified = start.Add(-24 * time.Hour)
		}
		out[i] = f
	}
	return out
}
