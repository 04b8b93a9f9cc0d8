package esxsim

import (
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/esxsink/esxsink/vmdk"
)

// deltaLayer is one snapshot delta of a disk: a real COWD or seSparse
// file written by the vmdk package in the host's work folder, shown in
// the VM's folder, plus an in-memory record of its 4 KiB blocks, used to
// read the chain and to consolidate.
type deltaLayer struct {
	d         *vdisk
	num       int
	desc, ext string
	parent    *deltaLayer // nil: the base disk
	format    vmdk.DeltaFormat
	parentCID uint32
	cid       uint32

	mu     sync.RWMutex
	blocks map[int64][]byte
	w      *vmdk.DeltaWriter
	f      *os.File // the finished extent, open for reading
	// size of the finished extent
	fsize int64

	descNode, extNode *node
}

func (l *deltaLayer) parentName() string {
	if l.parent == nil {
		return l.d.baseRef(true)
	}
	return l.parent.desc
}

func (l *deltaLayer) workDir() string {
	return filepath.Join(l.d.vm.h.work, fmt.Sprintf("vm-%016x", stableHash("work", l.d.vm.dir)))
}

func (l *deltaLayer) workDesc() string { return filepath.Join(l.workDir(), l.desc) }

func (l *deltaLayer) open() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.w != nil
}

// currentCID is the CID the descriptor shows: a delta still being
// written shows its parent's CID, as a fresh ESXi delta does.
func (l *deltaLayer) currentCID() uint32 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.w != nil {
		return l.parentCID
	}
	return l.cid
}

func parentCIDOf(d *vdisk, p *deltaLayer) uint32 {
	if p == nil {
		return d.cid
	}
	return p.currentCID()
}

// descriptor renders the delta's descriptor as ESXi writes it.
func (l *deltaLayer) descriptor() *vmdk.Descriptor {
	typ := vmdk.ExtentSESparse
	if l.format == vmdk.VMFSSparse {
		typ = vmdk.ExtentVMFSSparse
	}
	d := &vmdk.Descriptor{Version: 1, Encoding: "UTF-8", CID: l.currentCID(), ParentCID: l.parentCID,
		IsNativeSnapshot: "no", CreateType: string(l.format), ParentFileNameHint: l.parentName(),
		Extents: []vmdk.ExtentLine{{Access: vmdk.AccessRW, Sectors: l.d.size / 512, Type: typ, FileName: l.ext}}}
	if l.format == vmdk.SESparse {
		d.DDB = append(d.DDB, vmdk.KeyValue{Key: "ddb.encoding", Value: "UTF-8"}, vmdk.KeyValue{Key: "ddb.grain", Value: "8"})
	}
	d.DDB = append(d.DDB, vmdk.KeyValue{Key: "ddb.longContentID", Value: fmt.Sprintf("%s%08x", hexOf(stableHash("lcid", l.d.vm.dir, l.d.desc), 24), l.currentCID())})
	return d
}

func (l *deltaLayer) refreshDesc() {
	if l.descNode != nil {
		l.descNode.data.(*memContent).set(l.descriptor().Marshal())
	}
}

// start creates the delta's files and leaves it open for the VM's writes,
// writing the blocks it already holds (a rebuild after consolidation).
func (l *deltaLayer) start() error {
	if err := os.MkdirAll(l.workDir(), 0o755); err != nil {
		return fmt.Errorf("delta %s: %w", l.desc, err)
	}
	l.removeWork()
	l.parentCID = parentCIDOf(l.d, l.parent)
	w, err := vmdk.CreateDelta(l.workDesc(), vmdk.DeltaOptions{Format: l.format, Sectors: l.d.size / 512,
		ParentFileNameHint: l.parentName(), ParentCID: l.parentCID, Parent: l.d.chainReader(l.parent)})
	if err != nil {
		return fmt.Errorf("delta %s: %w", l.desc, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w = w
	offs := make([]int64, 0, len(l.blocks))
	for k := range l.blocks {
		offs = append(offs, k)
	}
	slices.Sort(offs)
	for _, k := range offs {
		if _, err := w.WriteAt(l.blocks[k], k*ovBlock); err != nil {
			return fmt.Errorf("delta %s: %w", l.desc, err)
		}
	}
	return nil
}

// write records a guest write into the open delta.
func (l *deltaLayer) write(p []byte, off int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w == nil {
		return fmt.Errorf("delta %s is not open", l.desc)
	}
	if off%ovBlock != 0 || len(p)%ovBlock != 0 {
		return fmt.Errorf("guest write at %d of %d bytes is not 4 KiB aligned", off, len(p))
	}
	if _, err := l.w.WriteAt(p, off); err != nil {
		return err
	}
	if l.blocks == nil {
		l.blocks = map[int64][]byte{}
	}
	for i := 0; i < len(p); i += ovBlock {
		l.blocks[(off+int64(i))/ovBlock] = append([]byte(nil), p[i:i+ovBlock]...)
	}
	return nil
}

// finish closes the writer: the extent gets its metadata, the descriptor
// its final CID, and the file becomes readable.
func (l *deltaLayer) finish() error {
	l.mu.Lock()
	w := l.w
	l.w = nil
	l.mu.Unlock()
	if w == nil {
		return nil
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("delta %s: %w", l.desc, err)
	}
	f, err := os.Open(filepath.Join(l.workDir(), l.ext))
	if err != nil {
		return fmt.Errorf("delta %s: %w", l.desc, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.mu.Lock()
	l.cid, l.f, l.fsize = w.Descriptor().CID, f, fi.Size()
	l.mu.Unlock()
	l.refreshDesc()
	return nil
}

func (l *deltaLayer) removeWork() {
	l.mu.Lock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	l.mu.Unlock()
	os.Remove(l.workDesc())
	os.Remove(filepath.Join(l.workDir(), l.ext))
}

// Size and ReadAt make the layer the content of its extent node.
func (l *deltaLayer) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.f == nil {
		// An open delta is as big as what the guest has written into
		// it so far: the work file, which grows grain by grain.
		if fi, err := os.Stat(filepath.Join(l.workDir(), l.ext)); err == nil {
			return fi.Size()
		}
		return int64(len(l.blocks))*ovBlock + 6<<20
	}
	return l.fsize
}

func (l *deltaLayer) ReadAt(p []byte, off int64) (int, error) {
	l.mu.RLock()
	f, size := l.f, l.fsize
	l.mu.RUnlock()
	if f == nil {
		return 0, syscall.EBUSY
	}
	return readerAtContent{r: f, size: func() int64 { return size }}.ReadAt(p, off)
}

// chainReader reads the disk as it is at layer top (nil: the base).
func (d *vdisk) chainReader(top *deltaLayer) io.ReaderAt {
	var path []*deltaLayer
	for l := top; l != nil; l = l.parent {
		path = append(path, l)
	}
	slices.Reverse(path)
	return chainView{d: d, layers: path}
}

type chainView struct {
	d      *vdisk
	layers []*deltaLayer // oldest first
}

func (c chainView) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.d.base.ReadAt(p, off)
	if err != nil && err != io.EOF {
		return n, err
	}
	for _, l := range c.layers {
		l.mu.RLock()
		for blk := off / ovBlock; blk*ovBlock < off+int64(n); blk++ {
			if b, ok := l.blocks[blk]; ok {
				s := blk * ovBlock
				lo, hi := max(s, off), min(s+ovBlock, off+int64(n))
				copy(p[lo-off:hi-off], b[lo-s:hi-s])
			}
		}
		l.mu.RUnlock()
	}
	return n, err
}

// frozenChain is a disk as it was when a snapshot froze it: the base's
// written blocks and every layer's blocks as they were then. Blocks are
// replaced, never changed in place, so sharing them is a copy.
type frozenChain struct {
	base   *genContent
	layers []map[int64][]byte // oldest first
}

// freeze records the disk as it reads now at its top.
func (d *vdisk) freeze() frozenChain {
	f := frozenChain{base: d.baseW.frozen()}
	var path []*deltaLayer
	for l := d.top; l != nil; l = l.parent {
		path = append(path, l)
	}
	for i := len(path) - 1; i >= 0; i-- {
		path[i].mu.RLock()
		f.layers = append(f.layers, maps.Clone(path[i].blocks))
		path[i].mu.RUnlock()
	}
	return f
}

func (f frozenChain) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.base.ReadAt(p, off)
	if err != nil && err != io.EOF {
		return n, err
	}
	for _, blocks := range f.layers {
		for blk := off / ovBlock; blk*ovBlock < off+int64(n); blk++ {
			if b, ok := blocks[blk]; ok {
				s := blk * ovBlock
				lo, hi := max(s, off), min(s+ovBlock, off+int64(n))
				copy(p[lo-off:hi-off], b[lo-s:hi-s])
			}
		}
	}
	return n, err
}

// newLayer makes the next delta of d over parent and shows its files in
// the VM's folder.
func (h *Host) newLayer(d *vdisk, parent *deltaLayer) (*deltaLayer, error) {
	num := d.nextNum
	d.nextNum++
	desc := fmt.Sprintf("%s-%06d.vmdk", d.stem(), num)
	f := d.vm.deltaFormat(d.size)
	l := &deltaLayer{d: d, num: num, desc: desc, ext: vmdk.DeltaExtentName(desc, f), parent: parent, format: f}
	if err := l.start(); err != nil {
		return nil, err
	}
	now := h.now()
	l.descNode = h.fs.put(d.vm.path(desc), &node{mode: fileMode, mtime: now, data: newMem(nil, nil)})
	l.extNode = h.fs.put(d.vm.path(l.ext), &node{mode: fileMode, mtime: now, data: l})
	l.refreshDesc()
	d.layers = append(d.layers, l)
	return l, nil
}

// dropLayer deletes a delta's files.
func (h *Host) dropLayer(l *deltaLayer) {
	l.mu.Lock()
	w := l.w
	l.w = nil
	l.mu.Unlock()
	if w != nil {
		w.Close()
	}
	l.removeWork()
	delete(h.frozen, h.canonPath(l.d.vm.path(l.desc)))
	h.fs.unlink(l.d.vm.path(l.desc))
	h.fs.unlink(l.d.vm.path(l.ext))
	l.d.layers = slices.DeleteFunc(l.d.layers, func(x *deltaLayer) bool { return x == l })
}

// guestActivity writes deterministic "guest" data into the open delta:
// what the running VM writes after a snapshot.
func (h *Host) guestActivity(l *deltaLayer, seed uint64) error {
	if l.d.size < 1<<20 {
		return nil
	}
	buf := make([]byte, 64<<10)
	g := newGen(int64(len(buf)), seed, 0, nil)
	// The writes land past the guest file system's structures and files
	// (in its free clusters or beyond the partition), so every state of
	// the chain still opens in fls.
	lo := int64(0)
	if l.d.baseW != nil {
		lo = (l.d.baseW.fixedEnd() + ovBlock - 1) / ovBlock * ovBlock
	}
	if l.d.size-lo < 64<<10 {
		lo = 0
	}
	for i := range 6 {
		s := splitmix(seed + uint64(i))
		n := int64(ovBlock * (1 + s%16))
		off := lo + int64(splitmix(s)%uint64((l.d.size-lo)/ovBlock))*ovBlock
		n = min(n, l.d.size-off)
		g.ReadAt(buf[:n], 0)
		if err := l.write(buf[:n], off); err != nil {
			return err
		}
	}
	return nil
}

// closeDeltas finishes every open delta (at Close).
func (h *Host) closeDeltas() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range h.vms {
		for _, d := range v.disks {
			for _, l := range d.layers {
				l.mu.Lock()
				if l.w != nil {
					l.w.Close()
					l.w = nil
				}
				if l.f != nil {
					l.f.Close()
					l.f = nil
				}
				l.mu.Unlock()
			}
		}
	}
}

var _ fs.FileMode
