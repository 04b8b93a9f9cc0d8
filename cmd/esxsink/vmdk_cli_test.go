package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/internal/peer"
)

// TestVMDKCommands drives `esxsink vmdk info|convert|verify` on a disk
// qemu-img made from random data with a zero run, and checks the exit
// statuses a script relies on: 0 ok, 1 inconsistent, 2 usage.
func TestVMDKCommands(t *testing.T) {
	qemu := peer.Require(t, "qemu-img")
	dir := t.TempDir()
	raw := filepath.Join(dir, "guest.raw")
	data := make([]byte, 5<<20+3*512)
	r := rand.New(rand.NewPCG(5, 5))
	for i := range data[:3<<20] {
		data[i] = byte(r.Uint32())
	}
	os.WriteFile(raw, data, 0o644)
	disk := filepath.Join(dir, "guest.vmdk")
	if out, err := sh(t, dir, qemu, "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=monolithicSparse", raw, disk); err != nil {
		t.Fatalf("qemu-img: %v %s", err, out)
	}

	out, code := esx(t, dir, "vmdk", "info", "--json", disk)
	var info map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil {
		t.Fatalf("vmdk info --json: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "monolithicSparse") {
		t.Fatalf("info does not name the create type:\n%s", out)
	}

	conv := filepath.Join(dir, "out.raw")
	out, code = esx(t, dir, "vmdk", "convert", "--quiet", disk, conv)
	sum := md5.Sum(data)
	if code != 0 || !strings.Contains(out, hex.EncodeToString(sum[:])) {
		t.Fatalf("vmdk convert: exit %d, want the raw md5 %x printed\n%s", code, sum, out)
	}
	got, _ := os.ReadFile(conv)
	if !bytes.Equal(got, data) {
		t.Fatal("converted image differs from the original raw")
	}
	if _, code := esx(t, dir, "vmdk", "convert", "--quiet", disk, conv); code != 2 {
		t.Fatalf("convert over an existing output: exit %d, want 2", code)
	}
	if out, code := esx(t, dir, "vmdk", "verify", disk); code != 0 {
		t.Fatalf("verify of a good disk: exit %d\n%s", code, out)
	}

	// A truncated copy: verify reports it (exit 1) and names the file.
	b, _ := os.ReadFile(disk)
	cut := filepath.Join(dir, "cut.vmdk")
	os.WriteFile(cut, b[:len(b)*2/3], 0o644)
	if out, code := esx(t, dir, "vmdk", "verify", cut); code != 1 || !strings.Contains(out, "cut.vmdk") {
		t.Fatalf("verify of a truncated disk: exit %d, want 1 naming it\n%s", code, out)
	}
	if _, code := esx(t, dir, "vmdk", "convert"); code != 2 {
		t.Fatalf("convert without arguments: exit %d, want 2", code)
	}
}
