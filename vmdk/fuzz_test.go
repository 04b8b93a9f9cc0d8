package vmdk

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Hostile input must never panic or allocate without bound. Each target
// opens the structure, walks a bounded part of its map, reads a bounded
// amount of data and runs the verifier over it.

func FuzzParseDescriptor(f *testing.F) {
	for _, s := range []string{descVMFS, descSESparse, descRDMCBT, descMixed, "createType=\"vmfs\"\nRW 1 VMFS \"a\"\n", "RW 5 FLAT \"a b\" 7 u d\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDescriptor("fuzz.vmdk", b)
		if err != nil {
			return
		}
		// What parses must render and parse back to the same descriptor.
		d2, err := ParseDescriptor("again.vmdk", d.Marshal())
		if err != nil {
			t.Fatalf("re-parse of\n%s\nfailed: %v", d.Marshal(), err)
		}
		clearLines(d)
		clearLines(d2)
		d.hasCID, d.hasParentCID = true, true // Marshal always writes both
		if !reflect.DeepEqual(d, d2) {
			t.Fatalf("round trip changed\n%#v\ninto\n%#v", d, d2)
		}
	})
}

func FuzzParseVMSD(f *testing.F) {
	f.Add([]byte(testVMSD))
	f.Add([]byte("snapshot0.uid = \"1\"\nsnapshot0.disk4294967296.fileName = \"x\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseVMSD("fuzz.vmsd", b)
		if err == nil && len(v.Snapshots) > 0 {
			v.Find(v.Snapshots[0].DisplayName)
		}
	})
}

// exercise walks an extent's map and data within fixed bounds.
func exercise(t *testing.T, e extent, size int64) {
	var steps int
	buf := make([]byte, 64*kib)
	read := int64(0)
	for off := int64(0); off < size && steps < 200; steps++ {
		st, n, err := e.mapRun(off, min(size-off, mib))
		if err != nil {
			return
		}
		if n <= 0 || n > min(size-off, mib) {
			t.Fatalf("mapRun(%d) returned length %d (size %d)", off, n, size)
		}
		if st == Data && read < mib {
			k := min(n, int64(len(buf)))
			e.readData(buf[:k], off)
			read += k
		}
		off += n
	}
}

// fuzzTimeBound bounds the work of one fuzz input: every walk takes a
// context with this deadline, so no input can stall a worker (a target
// stuck on one input shows 0 execs/s and finds nothing more).
const fuzzTimeBound = 2 * time.Second

func verifyExtent(t *testing.T, e extent) {
	ctx, cancel := context.WithTimeout(context.Background(), fuzzTimeBound)
	defer cancel()
	v := &verifier{ctx: ctx, rep: &VerifyReport{}, counts: map[string]int{}}
	switch x := e.(type) {
	case *sparseExtent:
		v.sparse(x, "fuzz")
	case *cowdExtent:
		v.cowd(x, "fuzz")
	case *seSparseExtent:
		v.seSparse(x, "fuzz")
	}
}

// smallFile builds a seed with one of our writers and returns its bytes.
func smallFile(f *testing.F, build func(dir string) string) []byte {
	dir := f.TempDir()
	b, err := os.ReadFile(build(dir))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func FuzzSparse(f *testing.F) {
	sparse := smallFile(f, func(dir string) string {
		p := filepath.Join(dir, "s.vmdk")
		w, err := CreateSparse(p, 300*kib, SparseOptions{GrainSectors: 8, ZeroedGrain: true})
		if err != nil {
			f.Fatal(err)
		}
		w.WriteAt(bytes.Repeat([]byte{1, 2, 3}, 3000), 5000)
		w.WriteZeroes(64*kib, 8*kib)
		w.Close()
		return p
	})
	stream := smallFile(f, func(dir string) string {
		src := bytes.Repeat([]byte("evidence "), 20000)[:150*kib]
		p := filepath.Join(dir, "st.vmdk")
		if err := WriteStreamOptimized(context.Background(), p, bytes.NewReader(src), int64(len(src)), StreamOptions{GrainSectors: 16}); err != nil {
			f.Fatal(err)
		}
		return p
	})
	f.Add(sparse)
	f.Add(stream)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := openSparse("fuzz", bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		if d, err := e.embeddedDescriptor(); err == nil && d != nil {
			ParseDescriptor("embedded", d)
		}
		exercise(t, e, e.capacity)
		verifyExtent(t, e)
	})
}

func FuzzCOWD(f *testing.F) {
	f.Add(smallFile(f, func(dir string) string {
		p := filepath.Join(dir, "c-delta.vmdk")
		w, err := CreateCOWD(p, 600, 1, nil)
		if err != nil {
			f.Fatal(err)
		}
		w.WriteAt([]byte("hello"), 1000)
		w.WriteAt(make([]byte, 2048), 100*512)
		w.Close()
		return p
	}))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := openCOWD("fuzz", bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		exercise(t, e, e.capacity)
		verifyExtent(t, e)
	})
}

// compactSESparse builds a small seSparse file by hand (our writer
// reserves megabytes of regions): header, volatile header, directory at
// sector 2, one table slot at 3, grains from 67.
func compactSESparse() []byte {
	h := seHeader{Magic: seMagic, Version: seVersion, Capacity: 2048, GrainSize: 8, GrainTableSize: 64,
		VolatileOff: 1, VolatileSize: 1, GDOff: 2, GDSize: 1, GTOff: 3, GTSize: 64, GrainsOff: 67, GrainsSize: 2048}
	b := make([]byte, (67+3*8)*SectorSize)
	copy(b, h.marshal())
	copy(b[SectorSize:], seVolatile{Magic: seVolatileMagic, FreeGTNumber: 1}.marshal())
	le := binary.LittleEndian
	le.PutUint64(b[2*SectorSize:], seGDAllocated)
	gt := b[3*SectorSize:]
	le.PutUint64(gt[0:], seAllocatedEntry(0))
	le.PutUint64(gt[8:], seEntryZero)
	le.PutUint64(gt[16:], seEntryUnmapped)
	le.PutUint64(gt[24:], seAllocatedEntry(2))
	le.PutUint64(gt[40:], seAllocatedEntry(1))
	for i := 0; i < 3*8*SectorSize; i++ {
		b[67*SectorSize+i] = byte(i*7 + 1)
	}
	return b
}

func FuzzSESparse(f *testing.F) {
	f.Add(compactSESparse())
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := openSESparse("fuzz", bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		exercise(t, e, e.capacity)
		verifyExtent(t, e)
	})
}

// TestCompactSESparse checks the hand-built seed decodes as intended, so
// the seSparse fuzz target starts from a valid file.
func TestCompactSESparse(t *testing.T) {
	t.Parallel()
	b := compactSESparse()
	e, err := openSESparse("seed", bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var got []State
	for g := int64(0); g < 6; g++ {
		st, _, err := e.lookup(g)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, st)
	}
	want := []State{Data, Zero, Zero, Data, Unallocated, Data}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
	p := make([]byte, 4096)
	if err := e.readData(p, 5*4096); err != nil || p[0] != byte((4096*7+1)%256) {
		t.Errorf("grain 5 (index 1): %v, first byte %d", err, p[0])
	}
}

// FuzzOpenChain drives the entry points the CLI uses (Open with the
// chain, Info, Verify, Convert) on a fuzzed descriptor naming a fuzzed
// data file and a fuzzed parent descriptor, and opens the data file
// directly as an examiner might by mistake. Each input is bounded by
// fuzzTimeBound.
func FuzzOpenChain(f *testing.F) {
	cowdSeed := smallFile(f, func(dir string) string {
		p := filepath.Join(dir, "c-delta.vmdk")
		w, err := CreateCOWD(p, 600, 1, nil)
		if err != nil {
			f.Fatal(err)
		}
		w.WriteAt([]byte("hello"), 1000)
		w.Close()
		return p
	})
	parent := []byte("version=1\nCID=0000abcd\nparentCID=ffffffff\ncreateType=\"vmfs\"\nRW 600 VMFS \"parent-flat.vmdk\"\n")
	// Seeds stay small: the fuzzer minimises every new input, and a
	// large one takes it away from fuzzing for many seconds.
	child := func(sectors, typ, createType, extra string) []byte {
		return []byte("version=1\nCID=1\nparentCID=0000abcd\ncreateType=\"" + createType + "\"\n" + extra +
			"parentFileNameHint=\"parent.vmdk\"\nRW " + sectors + " " + typ + " \"data.vmdk\"\n")
	}
	f.Add(child("600", "VMFSSPARSE", "vmfsSparse", ""), cowdSeed, parent)
	f.Add(child("2048", "SESPARSE", "seSparse", ""), compactSESparse(), parent)
	f.Add(child("8", "FLAT", "monolithicFlat", ""), bytes.Repeat([]byte("data"), 8*128), parent)
	f.Add([]byte("version=1\ncreateType=\"vmfs\"\nRW 2 VMFS \"../../../../etc/passwd\"\n"), []byte{}, parent)
	f.Add(child("600", "VMFSSPARSE", "vmfsSparse", ""), cowdSeed, []byte("createType=\"vmfs\"\nRW 18014398509481983 ZERO\nRW 18014398509481983 ZERO\nRW 4 ZERO\n"))
	f.Fuzz(func(t *testing.T, desc, data, parentDesc []byte) {
		if len(desc) > 64<<10 || len(data) > 4<<20 || len(parentDesc) > 64<<10 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), fuzzTimeBound)
		defer cancel()
		dir := t.TempDir()
		write := func(name string, b []byte) {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("disk.vmdk", desc)
		write("data.vmdk", data)
		write("parent.vmdk", parentDesc)
		write("parent-flat.vmdk", make([]byte, 600*SectorSize))
		top := filepath.Join(dir, "disk.vmdk")
		for _, p := range []string{top, filepath.Join(dir, "data.vmdk")} {
			d, err := Open(p, &Options{IgnoreCID: true})
			if err != nil {
				// A message the examiner reads must not show fmt's
				// complaints about its own arguments.
				if strings.Contains(err.Error(), "%!") {
					t.Fatalf("malformed message: %v", err)
				}
				continue
			}
			if d.Size() < 0 || d.Size() > MaxCapacity {
				t.Fatalf("size %d outside 0..MaxCapacity", d.Size())
			}
			if _, err := d.Info(ctx, nil, nil); err != nil && ctx.Err() == nil {
				t.Fatalf("info: %v", err)
			}
			if d.Size() <= 64<<20 {
				Convert(ctx, d, filepath.Join(dir, "out.raw"), ConvertOptions{Hashes: []string{}, Workers: 1, Overwrite: true})
			}
			d.Close()
		}
		if _, err := Verify(ctx, top, nil); err != nil && ctx.Err() == nil {
			t.Fatalf("verify: %v", err)
		}
	})
}
