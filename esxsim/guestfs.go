package esxsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

// A hand-written FAT16 writer rather than go-diskfs: go-diskfs stamps
// directory entries ("." "..", the volume label) with the wall clock
// unless SOURCE_DATE_EPOCH is set in the process environment, and the
// simulator's disks must be the same bytes on every run. FAT16 is small
// enough to write directly and The Sleuth Kit reads it.

const (
	sectorSize     = 512
	fatReserved    = 1   // the boot sector
	fatRootEntries = 512 // a fixed root directory, as mkfs.fat makes
	fatMinClusters = 4085
	fatMaxClusters = 65524
	fatEOC         = 0xffff
	attrDir        = 0x10
	attrArchive    = 0x20
	attrVolume     = 0x08
	attrLFN        = 0x0f
	deletedMark    = 0xe5
)

// errFATTooSmall: the partition cannot hold a FAT16 file system (fewer
// than 4085 clusters would make it FAT12 to every reader).
var errFATTooSmall = errors.New("partition too small for FAT16")

// fatVolume is what goes into a generated FAT16 file system.
type fatVolume struct {
	label  string // up to 11 characters
	serial uint32
	// when stamps directories, and files without a Modified time.
	when  time.Time
	files []GuestFile
}

// fatNode is a file or directory of the tree being written.
type fatNode struct {
	name     string
	dir      bool
	data     []byte
	mtime    time.Time
	deleted  bool
	children []*fatNode
	short    [11]byte
	lfn      bool
	cluster  int // first cluster; 0 for an empty file
	clusters int
}

// fatLayout is the geometry of one FAT16 file system.
type fatLayout struct {
	sectors  int64 // total, in the partition
	spc      int   // sectors per cluster
	fatSecs  int
	clusters int
}

func (l fatLayout) rootStart() int   { return fatReserved + 2*l.fatSecs }
func (l fatLayout) dataStart() int   { return l.rootStart() + fatRootEntries*32/sectorSize }
func (l fatLayout) clusterSize() int { return l.spc * sectorSize }

// clusterOff is the byte offset of cluster c from the partition's start.
func (l fatLayout) clusterOff(c int) int64 {
	return int64(l.dataStart())*sectorSize + int64(c-2)*int64(l.clusterSize())
}

// planFAT16 picks a cluster size the way mkfs.fat does for small volumes
// (2 KiB where the count allows) and sizes the FATs for it.
func planFAT16(sectors int64) (fatLayout, error) {
	try := func(spc int) fatLayout {
		l := fatLayout{sectors: sectors, spc: spc, fatSecs: 1}
		for {
			data := sectors - int64(fatReserved) - 2*int64(l.fatSecs) - int64(fatRootEntries*32/sectorSize)
			if data <= 0 {
				l.clusters = 0
				return l
			}
			l.clusters = int(data / int64(spc))
			need := ((l.clusters+2)*2 + sectorSize - 1) / sectorSize
			if need <= l.fatSecs {
				return l
			}
			l.fatSecs = need
		}
	}
	for _, spc := range []int{4, 8, 16, 32, 64, 2, 1} {
		if l := try(spc); l.clusters >= fatMinClusters && l.clusters <= fatMaxClusters {
			return l, nil
		}
	}
	return fatLayout{}, fmt.Errorf("%w: %d sectors", errFATTooSmall, sectors)
}

// buildFAT16 writes a FAT16 file system of the given size holding vol's
// files, and returns its bytes from the partition's start up to the end
// of the last cluster in use: the rest of the partition is left to the
// generator, as free space on a real disk holds old data. fill supplies
// the generator's bytes at a partition offset for the data area of the
// returned image, so file slack holds them too; directory clusters are
// zeroed, as a file system zeroes a directory it creates.
// partLBA is the partition's first sector on the disk (the BPB's hidden
// sectors).
func buildFAT16(sectors, partLBA int64, vol fatVolume, fill func(p []byte, off int64)) ([]byte, error) {
	l, err := planFAT16(sectors)
	if err != nil {
		return nil, err
	}
	root := &fatNode{dir: true, mtime: vol.when}
	for _, f := range vol.files {
		if err := root.add(f, vol.when); err != nil {
			return nil, err
		}
	}
	root.name83()
	if n := root.entries() + 1; n > fatRootEntries {
		return nil, fmt.Errorf("the root directory holds %d entries, more than FAT16's %d: put files in folders", n, fatRootEntries)
	}
	next := 2
	root.allocate(l, &next, true)
	if used := next - 2; used > l.clusters {
		return nil, fmt.Errorf("the files need %d KiB, the file system holds %d KiB: plant smaller files or give the disk more size",
			int64(used)*int64(l.clusterSize())>>10, int64(l.clusters)*int64(l.clusterSize())>>10)
	}
	img := make([]byte, l.clusterOff(next))
	dataOff := int64(l.dataStart()) * sectorSize
	fill(img[dataOff:], dataOff)
	fat := make([]uint16, l.fatSecs*sectorSize/2)
	fat[0], fat[1] = 0xfff8, 0xffff
	root.chain(fat)
	writeBPB(img[:sectorSize], l, partLBA, vol)
	for i := range 2 {
		b := img[(fatReserved+i*l.fatSecs)*sectorSize:]
		for c, v := range fat {
			binary.LittleEndian.PutUint16(b[2*c:], v)
		}
	}
	rootDir := img[l.rootStart()*sectorSize : l.dataStart()*sectorSize]
	label := volumeLabel(vol.label)
	var le [32]byte
	copy(le[:11], label[:])
	le[11] = attrVolume
	putFATTime(le[22:], vol.when)
	putFATDate(le[24:], vol.when)
	copy(rootDir, le[:])
	root.writeEntries(rootDir[32:])
	root.writeTree(img, l)
	return img, nil
}

// add puts f into the tree, making its folders; a later file at the same
// path replaces an earlier one (a scenario's file over a default one).
func (n *fatNode) add(f GuestFile, when time.Time) error {
	parts := strings.Split(strings.Trim(f.Path, "/"), "/")
	cur := n
	for i, p := range parts {
		var child *fatNode
		for _, c := range cur.children {
			if strings.EqualFold(c.name, p) && !c.deleted {
				child = c
			}
		}
		last := i == len(parts)-1
		if child != nil && (child.dir == last) {
			what := "a folder"
			if !child.dir {
				what = "a file"
			}
			return fmt.Errorf("file %s: %s is already %s", f.Path, "/"+strings.Join(parts[:i+1], "/"), what)
		}
		if last {
			mt := f.Modified
			if mt.IsZero() {
				mt = when
			}
			nf := &fatNode{name: p, data: []byte(f.Content), mtime: mt, deleted: f.Deleted}
			if child != nil && !f.Deleted {
				*child = *nf
			} else {
				cur.children = append(cur.children, nf)
			}
			return nil
		}
		if child == nil {
			child = &fatNode{name: p, dir: true, mtime: when}
			cur.children = append(cur.children, child)
		}
		cur = child
	}
	return nil
}

// entries is the number of 32-byte directory entries n's children take.
func (n *fatNode) entries() int {
	e := 0
	for _, c := range n.children {
		e++
		if c.lfn {
			e += lfnSlots(c.name)
		}
	}
	return e
}

func lfnSlots(name string) int { return (len(utf16.Encode([]rune(name))) + 12) / 13 }

// name83 gives every child of n (and below) its short name: the name
// itself when it is a valid 8.3 name, else the upper-cased basis (with a
// numeric tail "~1" when the conversion lost characters or the basis is
// taken) and long-name entries that carry the real name.
func (n *fatNode) name83() {
	taken := map[[11]byte]bool{}
	for _, c := range n.children {
		s, exact, lossy := shortName(c.name)
		c.lfn = !exact
		if lossy || taken[s] {
			base := strings.TrimRight(string(s[:8]), " ")
			found := false
			for i := 1; i < 1000000 && !found; i++ {
				tail := fmt.Sprintf("~%d", i)
				b := base
				if len(b)+len(tail) > 8 {
					b = b[:8-len(tail)]
				}
				copy(s[:8], fmt.Sprintf("%-8s", b+tail))
				found = !taken[s]
			}
		}
		taken[s] = true
		c.short = s
		if c.dir {
			c.name83()
		}
	}
}

// shortName derives the 8.3 basis of a long name. exact: the long name is
// that short name already (no long-name entries needed); lossy: the
// basis dropped or replaced characters, so it takes a numeric tail.
func shortName(name string) (s [11]byte, exact, lossy bool) {
	for i := range s {
		s[i] = ' '
	}
	base, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		base, ext = name[:i], name[i+1:]
	}
	exact = !strings.HasPrefix(name, ".")
	lossy = !exact
	clean := func(t string, max int) string {
		var b strings.Builder
		for _, r := range t {
			switch {
			case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("!#$%&'()-@^_`{}~", r):
				b.WriteRune(r)
			case r >= 'a' && r <= 'z':
				b.WriteRune(r - 'a' + 'A')
				exact = false
			case r == ' ' || r == '.':
				exact, lossy = false, true
			default:
				b.WriteRune('_')
				exact, lossy = false, true
			}
		}
		out := b.String()
		if len(out) > max {
			out, exact, lossy = out[:max], false, true
		}
		return out
	}
	b, e := clean(strings.TrimLeft(base, "."), 8), clean(ext, 3)
	if b == "" {
		b, exact, lossy = "_", false, true
	}
	copy(s[:8], b)
	copy(s[8:], e)
	return s, exact, lossy
}

// allocate gives n's clusters and then its children's, depth first, as a
// fresh copy onto an empty volume lays them out.
func (n *fatNode) allocate(l fatLayout, next *int, isRoot bool) {
	cs := l.clusterSize()
	switch {
	case isRoot:
	case n.dir:
		n.clusters = max(1, ((n.entries()+2)*32+cs-1)/cs)
	default:
		n.clusters = (len(n.data) + cs - 1) / cs
	}
	if n.clusters > 0 {
		n.cluster = *next
		*next += n.clusters
	}
	for _, c := range n.children {
		if !c.dir {
			c.allocate(l, next, false)
		}
	}
	for _, c := range n.children {
		if c.dir {
			c.allocate(l, next, false)
		}
	}
}

// chain writes the FAT entries of every live file and folder; a deleted
// file's clusters stay free, its data in place, as after a real delete.
func (n *fatNode) chain(fat []uint16) {
	if n.clusters > 0 && !n.deleted {
		for i := range n.clusters {
			c := n.cluster + i
			fat[c] = uint16(c + 1)
			if i == n.clusters-1 {
				fat[c] = fatEOC
			}
		}
	}
	for _, c := range n.children {
		c.chain(fat)
	}
}

// writeTree writes file contents and sub-directories under n.
func (n *fatNode) writeTree(img []byte, l fatLayout) {
	for _, c := range n.children {
		if c.clusters == 0 {
			continue
		}
		off := l.clusterOff(c.cluster)
		if !c.dir {
			copy(img[off:], c.data)
			continue
		}
		d := img[off : off+int64(c.clusters*l.clusterSize())]
		clear(d)
		dot := func(b []byte, name string, cluster int) {
			copy(b[:11], fmt.Sprintf("%-11s", name))
			b[11] = attrDir
			putTimes(b, c.mtime)
			binary.LittleEndian.PutUint16(b[26:], uint16(cluster))
		}
		dot(d[0:32], ".", c.cluster)
		dot(d[32:64], "..", n.cluster)
		c.writeEntries(d[64:])
		c.writeTree(img, l)
	}
}

// writeEntries writes the directory entries of n's children into d.
func (n *fatNode) writeEntries(d []byte) {
	at := 0
	for _, c := range n.children {
		if c.lfn {
			u := utf16.Encode([]rune(c.name))
			slots := lfnSlots(c.name)
			sum := lfnChecksum(c.short)
			for s := slots; s >= 1; s-- {
				e := d[at : at+32]
				e[0] = byte(s)
				if s == slots {
					e[0] |= 0x40
				}
				if c.deleted {
					e[0] = deletedMark
				}
				e[11], e[13] = attrLFN, sum
				for k, pos := range []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
					i := (s-1)*13 + k
					v := uint16(0xffff)
					switch {
					case i < len(u):
						v = u[i]
					case i == len(u):
						v = 0
					}
					binary.LittleEndian.PutUint16(e[pos:], v)
				}
				at += 32
			}
		}
		e := d[at : at+32]
		copy(e[:11], c.short[:])
		if c.deleted {
			e[0] = deletedMark
		}
		e[11] = attrArchive
		if c.dir {
			e[11] = attrDir
		}
		putTimes(e, c.mtime)
		binary.LittleEndian.PutUint16(e[26:], uint16(c.cluster))
		if !c.dir {
			binary.LittleEndian.PutUint32(e[28:], uint32(len(c.data)))
		}
		at += 32
	}
}

func lfnChecksum(s [11]byte) byte {
	var sum byte
	for _, c := range s {
		sum = (sum&1)<<7 + sum>>1 + c
	}
	return sum
}

// writeBPB fills the FAT16 boot sector.
func writeBPB(b []byte, l fatLayout, partLBA int64, vol fatVolume) {
	copy(b, []byte{0xeb, 0x3c, 0x90})
	copy(b[3:11], "ESXSIM  ")
	binary.LittleEndian.PutUint16(b[11:], sectorSize)
	b[13] = byte(l.spc)
	binary.LittleEndian.PutUint16(b[14:], fatReserved)
	b[16] = 2
	binary.LittleEndian.PutUint16(b[17:], fatRootEntries)
	if l.sectors < 1<<16 {
		binary.LittleEndian.PutUint16(b[19:], uint16(l.sectors))
	} else {
		binary.LittleEndian.PutUint32(b[32:], uint32(l.sectors))
	}
	b[21] = 0xf8
	binary.LittleEndian.PutUint16(b[22:], uint16(l.fatSecs))
	binary.LittleEndian.PutUint16(b[24:], 63)
	binary.LittleEndian.PutUint16(b[26:], 255)
	binary.LittleEndian.PutUint32(b[28:], uint32(partLBA))
	b[36], b[38] = 0x80, 0x29
	binary.LittleEndian.PutUint32(b[39:], vol.serial)
	label := volumeLabel(vol.label)
	copy(b[43:54], label[:])
	copy(b[54:62], "FAT16   ")
	copy(b[62:], "\x0e\x1f\xbe\x5b\x7c\xac\x22\xc0\x74\x0b\xb4\x0e\xcd\x10\xeb\xf5\xcd\x16\xcd\x19This is not a bootable disk.\r\n")
	b[510], b[511] = 0x55, 0xaa
}

// volumeLabel is a label as FAT stores it: upper case, 11 bytes.
func volumeLabel(s string) [11]byte {
	var out [11]byte
	for i := range out {
		out[i] = ' '
	}
	n := 0
	for _, r := range strings.ToUpper(s) {
		if n == 11 {
			break
		}
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '-' || r == '_' {
			out[n] = byte(r)
			n++
		}
	}
	if n == 0 {
		copy(out[:], "NO NAME    ")
	}
	return out
}

// putTimes stamps a directory entry created, accessed and written at t.
func putTimes(e []byte, t time.Time) {
	putFATTime(e[14:], t)
	putFATDate(e[16:], t)
	putFATDate(e[18:], t)
	putFATTime(e[22:], t)
	putFATDate(e[24:], t)
}

func putFATTime(b []byte, t time.Time) {
	t = fatClamp(t)
	binary.LittleEndian.PutUint16(b, uint16(t.Hour()<<11|t.Minute()<<5|t.Second()/2))
}

func putFATDate(b []byte, t time.Time) {
	t = fatClamp(t)
	binary.LittleEndian.PutUint16(b, uint16((t.Year()-1980)<<9|int(t.Month())<<5|t.Day()))
}

// fatClamp keeps t inside what FAT dates can say (1980-2107).
func fatClamp(t time.Time) time.Time {
	t = t.UTC()
	if t.Year() < 1980 {
		return time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if t.Year() > 2107 {
		return time.Date(2107, 12, 31, 23, 59, 58, 0, time.UTC)
	}
	return t
}
