package nfsclient

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/internal/sinktest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestMountWriteReadAgainstSink mounts the real sink through its
// portmapper, writes a file with many WRITEs in flight, and checks the
// sink's hash, the bytes on its disk, READ, READDIRPLUS and LOOKUP.
func TestMountWriteReadAgainstSink(t *testing.T) {
	ctx := ctxT(t)
	ts := startSink(t)
	m, err := MountExport(ctx, "127.0.0.1", "/esxsink", MountOptions{PortmapPort: ts.PortmapPort, Auth: root})
	if err != nil {
		t.Fatal(err)
	}
	if m.Info.WTMax < 64<<10 || m.Info.RTMax == 0 {
		t.Fatalf("FSINFO: %+v", m.Info)
	}
	exports, err := m.Exports(ctx)
	if err != nil || len(exports) != 1 || exports[0].Dir != "/esxsink" {
		t.Fatalf("exports %+v, %v", exports, err)
	}
	dir, _, err := m.Mkdir(ctx, m.Root, "vm one", SetAttr{})
	if err != nil {
		t.Fatal(err)
	}
	fh, _, err := m.Create(ctx, dir, "disk-flat.vmdk", Unchecked, SetAttr{}, [8]byte{})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 24<<20+777)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	w := m.NewWriter(ctx, fh, WriterOptions{InFlight: 8, Chunk: 256 << 10})
	// Out of order on purpose: the second half first.
	half := len(data) / 2
	if _, err := w.WriteAt(data[half:], int64(half)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(data[:half], 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Acked() != int64(len(data)) {
		t.Fatalf("acked %d of %d", w.Acked(), len(data))
	}
	if _, max := m.Stats(); max < 4 {
		t.Fatalf("at most %d calls were in flight; want several WRITEs at once", max)
	}
	res, err := ts.Finalize(context.Background(), "vm one/disk-flat.vmdk", "test", int64(len(data)), true)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	if res.Hashes["md5"] != hex.EncodeToString(sum[:]) || len(res.Anomalies) != 0 {
		t.Fatalf("sink md5 %s anomalies %v, want %x", res.Hashes["md5"], res.Anomalies, sum)
	}
	onDisk, err := os.ReadFile(filepath.Join(ts.Evidence, "vm one", "disk-flat.vmdk"))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("file on the sink's disk differs (%v)", err)
	}

	got, eof, err := m.Read(ctx, fh, uint64(len(data)-100), 4096)
	if err != nil || !eof || !bytes.Equal(got, data[len(data)-100:]) {
		t.Fatalf("READ at the end: %d bytes eof=%v err=%v", len(got), eof, err)
	}
	ents, err := m.ReadDirPlus(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range ents {
		if e.Name == "disk-flat.vmdk" {
			found = e.Attr != nil && e.Attr.Size == uint64(len(data)) && e.Handle != nil
		}
	}
	if !found {
		t.Fatalf("READDIRPLUS did not list the file with its size: %+v", ents)
	}
	fh2, a, err := m.LookupPath(ctx, m.Root, "vm one/disk-flat.vmdk")
	if err != nil || !bytes.Equal(fh2, fh) || a.Size != uint64(len(data)) || a.FileMode().IsDir() {
		t.Fatalf("LookupPath: %x %+v %v", fh2, a, err)
	}
	_, _, err = m.Lookup(ctx, dir, "missing")
	var st Status
	if !errors.As(err, &st) || st != ErrNoEnt || !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("LOOKUP of a missing name: %v", err)
	}
	fss, err := m.FSStat(ctx, m.Root)
	if err != nil || fss.TotalBytes == 0 || fss.AvailBytes > fss.TotalBytes {
		t.Fatalf("FSSTAT %+v %v", fss, err)
	}
	if err := m.Unmount(ctx); err != nil {
		t.Fatal(err)
	}
	if n := ts.Log.Count(custody.TypeMountReleased); n != 1 {
		t.Fatalf("%d mount.released records after UMNT, want 1", n)
	}
	if err := m.Null(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after Unmount: %v, want ErrClosed", err)
	}
}

// TestSinkPolicyRefusals checks that the sink's write-once refusals come
// back as NFS statuses the caller can test.
func TestSinkPolicyRefusals(t *testing.T) {
	ctx := ctxT(t)
	ts := startSink(t)
	m, err := MountExport(ctx, "127.0.0.1", "/esxsink", MountOptions{PortmapPort: ts.PortmapPort, Auth: root})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Unmount(ctx)
	fh, _, err := m.Create(ctx, m.Root, "a.bin", Guarded, SetAttr{}, [8]byte{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Write(ctx, fh, 0, []byte("evidence"), FileSync); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Create(ctx, m.Root, "a.bin", Guarded, SetAttr{}, [8]byte{}); !errors.Is(err, ErrExist) {
		t.Fatalf("GUARDED CREATE of an existing file: %v", err)
	}
	if err := m.Remove(ctx, m.Root, "a.bin"); !errors.Is(err, ErrAcces) || !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("REMOVE: %v, want NFS3ERR_ACCES", err)
	}
	if err := m.Rename(ctx, m.Root, "a.bin", m.Root, "b.bin"); !errors.Is(err, ErrAcces) {
		t.Fatalf("RENAME: %v, want NFS3ERR_ACCES", err)
	}
	zero := uint64(0)
	if err := m.Setattr(ctx, fh, SetAttr{Size: &zero}); err == nil {
		t.Fatal("truncating evidence with SETATTR succeeded")
	}
}

// TestMountFailures checks the stage and status reported for a wrong
// export and for a host with no portmapper.
func TestMountFailures(t *testing.T) {
	ctx := ctxT(t)
	ts := startSink(t)
	_, err := MountExport(ctx, "127.0.0.1", "/elsewhere", MountOptions{PortmapPort: ts.PortmapPort, Auth: root})
	var me *MountError
	if !errors.As(err, &me) || me.Stage != StageMnt || !errors.Is(err, MntErrNoEnt) {
		t.Fatalf("mount of an unknown export: %v", err)
	}
	_, err = MountExport(ctx, "127.0.0.1", "/esxsink", MountOptions{PortmapPort: sinktest.FreePort(t), Auth: root})
	if !errors.As(err, &me) || me.Stage != StagePortmap || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("mount with no portmapper: %v", err)
	}
	port, err := GetPort(ctx, "127.0.0.1:"+itoa(ts.PortmapPort), ProgMount, 1)
	if !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("GETPORT for MOUNT v1: port %d, %v", port, err)
	}
}
