package vmdk

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func randomFile(t testing.TB, path string, n int64, seed uint64) []byte {
	t.Helper()
	b := make([]byte, n)
	fillBytes(b, 'r', rand.New(rand.NewPCG(seed, seed)))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestZeroAndReadOnlyExtents: a descriptor mixing a ZERO extent, an
// RDONLY flat extent at an offset and a RW flat extent, which neither
// qemu (drops non-RW and ZERO lines) nor libvmdk (refuses) reads; the
// expected image is computed by hand.
func TestZeroAndReadOnlyExtents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := randomFile(t, filepath.Join(dir, "a.bin"), 3*mib, 1)
	b := randomFile(t, filepath.Join(dir, "b b.bin"), 2*mib, 2)
	desc := "# Disk DescriptorFile\nversion=1\nCID=11112222\nparentCID=ffffffff\ncreateType=\"custom\"\n" +
		"RW 2048 ZERO\nRDONLY 2048 FLAT \"a.bin\" 10\nRW 4096 FLAT \"b b.bin\" 0\n"
	p := filepath.Join(dir, "mixed.vmdk")
	os.WriteFile(p, []byte(desc), 0o644)
	var want []byte
	want = append(want, make([]byte, mib)...)
	want = append(want, a[10*512:10*512+mib]...)
	want = append(want, b...)
	if got := convertFile(t, p, filepath.Join(dir, "o.raw"), nil); got != sha256Bytes(want) {
		t.Errorf("mixed extents: %s, want %s", got, sha256Bytes(want))
	}
	d, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if r, _ := d.MapRun(0, d.Size()); r.State != Zero || r.Length != mib {
		t.Errorf("ZERO extent maps as %+v", r)
	}
	// Reads that span extents.
	buf := make([]byte, 2*mib)
	if n, err := d.ReadAt(buf, mib/2); err != nil || n != len(buf) || !bytes.Equal(buf, want[mib/2:mib/2+2*mib]) {
		t.Errorf("ReadAt across extents: %d, %v", n, err)
	}
	if n, err := d.ReadAt(buf, d.Size()-100); n != 100 || err == nil {
		t.Errorf("ReadAt at the end: %d, %v; want 100 and io.EOF", n, err)
	}
}

func TestNoAccessExtent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	randomFile(t, filepath.Join(dir, "a.bin"), mib, 1)
	p := filepath.Join(dir, "na.vmdk")
	os.WriteFile(p, []byte("CID=1\ncreateType=\"custom\"\nRW 1024 FLAT \"a.bin\" 0\nNOACCESS 1024 FLAT \"a.bin\" 1024\n"), 0o644)
	d, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = Convert(context.Background(), d, filepath.Join(dir, "o.raw"), ConvertOptions{})
	wantErr(t, err, ErrUnsupported, "na.vmdk line 4", "NOACCESS")
	if _, err := os.Stat(filepath.Join(dir, "o.raw")); !os.IsNotExist(err) {
		t.Errorf("a failed conversion left its output behind: %v", err)
	}
}

// TestRDM: a VMFSRDM extent reads the collected device image: through
// the resolver, or the collected mapping file when it is device-sized;
// without either it is a clear error.
func TestRDM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	desc := "# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\nCID=fffffffe\nparentCID=ffffffff\n" +
		"createType=\"vmfsPassthroughRawDeviceMap\"\n\n# Extent description\nRW 8192 VMFSRDM \"lun3-rdmp.vmdk\"\n"
	p := filepath.Join(dir, "lun3.vmdk")
	os.WriteFile(p, []byte(desc), 0o644)

	_, err := Open(p, nil)
	wantErr(t, err, ErrMissingDevice, "lun3.vmdk line 9", "lun3-rdmp.vmdk", "--rdm")

	img := randomFile(t, filepath.Join(t.TempDir(), "naa.600a0b80.img"), 4*mib, 9)
	var asked DeviceRef
	o := &Options{ResolveDevice: func(r DeviceRef) (string, error) {
		asked = r
		return filepath.Join(filepath.Dir(filepath.Dir(r.MappingFile)), "x"), nil // wrong on purpose
	}}
	if _, err := Open(p, o); err == nil {
		t.Error("a resolver naming a missing file was accepted")
	}
	if asked.Extent.FileName != "lun3-rdmp.vmdk" || asked.CreateType != "vmfsPassthroughRawDeviceMap" {
		t.Errorf("resolver asked %+v", asked)
	}
	imgPath := filepath.Join(dir, "naa.img")
	os.WriteFile(imgPath, img, 0o644)
	o.ResolveDevice = func(r DeviceRef) (string, error) { return imgPath, nil }
	if got := convertFile(t, p, filepath.Join(t.TempDir(), "o.raw"), o); got != sha256Bytes(img) {
		t.Errorf("RDM via resolver: %s", got)
	}
	// A device-sized copy of the mapping file is the device image.
	os.WriteFile(filepath.Join(dir, "lun3-rdmp.vmdk"), img, 0o644)
	d, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !strings.Contains(strings.Join(d.Warnings, "\n"), "read from the collected image") {
		t.Errorf("warnings %q do not say where the device data came from", d.Warnings)
	}
	if got := convertDisk(t, d, filepath.Join(t.TempDir(), "o.raw")); got != sha256Bytes(img) {
		t.Errorf("RDM via mapping file copy: %s", got)
	}
}

func TestEncryptedRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := randomFile(t, filepath.Join(dir, "e-flat.vmdk"), mib, 4)
	p := filepath.Join(dir, "e.vmdk")
	os.WriteFile(p, []byte("CID=1\ncreateType=\"vmfs\"\nRW 2048 VMFS \"e-flat.vmdk\"\n#DDB\nddb.iofilters = \"vmwarecrypt:\"\nddb.keySafe = \"vmware:key/list/(pair/x)\"\n"), 0o644)
	d, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = Convert(context.Background(), d, filepath.Join(dir, "o.raw"), ConvertOptions{})
	wantErr(t, err, ErrEncrypted, "e.vmdk", "ciphertext", "--allow-encrypted")
	res, err := Convert(context.Background(), d, filepath.Join(dir, "o.raw"), ConvertOptions{AllowEncrypted: true, Hashes: []string{"sha256"}})
	if err != nil || res.Digest.Sums["sha256"] != sha256Bytes(data) {
		t.Errorf("AllowEncrypted: %v", err)
	}
	in, err := d.Info(context.Background(), nil, nil)
	if err != nil || !in.Encrypted {
		t.Errorf("info does not flag the encryption: %v %+v", err, in)
	}
}

// TestSelfContainedRename: a hosted sparse file opened directly is read
// as itself even when its embedded extent line names another file (as
// after a rename), like qemu and unlike libvmdk.
func TestSelfContainedRename(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "orig.vmdk")
	w, err := CreateSparse(p, 2*mib, SparseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.WriteAt(bytes.Repeat([]byte("Z"), 5000), 70000)
	w.Close()
	q := filepath.Join(dir, "renamed.vmdk")
	os.Rename(p, q)
	want := make([]byte, 2*mib)
	copy(want[70000:], bytes.Repeat([]byte("Z"), 5000))
	if got := convertFile(t, q, filepath.Join(dir, "o.raw"), nil); got != sha256Bytes(want) {
		t.Errorf("renamed sparse: %s", got)
	}
}
