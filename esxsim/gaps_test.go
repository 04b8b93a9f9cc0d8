package esxsim

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/internal/peer"
)

func simExec(t *testing.T, h *Host, line string) string {
	t.Helper()
	out, errOut, rc := h.Exec(context.Background(), line)
	if rc != 0 {
		t.Fatalf("%q: exit %d\nstdout: %q\nstderr: %q", line, rc, out, errOut)
	}
	return out
}

// The quoting esxi.Quote writes for a single quote ('\”) must name the
// same file in a redirect or a tee target in the simulator as in busybox
// ash: full.yaml has a VM named `Tom's "lab" $HOME`.
func TestQuotedRedirectTargetsMatchBusybox(t *testing.T) {
	bb := peer.Require(t, "busybox")
	h, err := New(loadScenario(t, "full.yaml"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	dir, err := os.MkdirTemp("/tmp", "esxsim-quote-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	simExec(t, h, "mkdir "+esxi.Quote(dir))
	name := `Tom's "lab" $HOME`
	src := dir + "/" + name + ".vmx"
	body := `displayName = "Tom's \"lab\" $HOME"` + "\n"
	simExec(t, h, "printf '%s\\n' "+esxi.Quote(strings.TrimSuffix(body, "\n"))+" > "+esxi.Quote(src))
	if err := os.WriteFile(src, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	size := int64(len(body))
	cmds := []string{}
	for i, opts := range []esxi.CopyOptions{
		{Hashes: []esxi.HashAlg{esxi.MD5}},          // dd | tee DST | md5sum
		{Size: size},                                // { dd; dd; } > DST
		{Hashes: []esxi.HashAlg{esxi.MD5}, Size: 7}, // the split read, through tee
	} {
		dst := dir + "/" + name + " copy " + string(rune('a'+i))
		bs := esxi.CopyBlockSize(size, 1<<20)
		if opts.Size > 0 {
			bs = 512
		}
		cmd, err := esxi.CmdCopy(src, dst, bs, opts)
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		simExec(t, h, cmd)
		c := exec.Command(bb, "sh", "-c", cmd)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("busybox sh -c %q: %v\n%s", cmd, err, out)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var real []string
	for _, e := range ents {
		real = append(real, e.Name())
	}
	sim := lines(simExec(t, h, "ls -1 "+esxi.Quote(dir)))
	if strings.Join(sim, "\n") != strings.Join(real, "\n") || len(real) != 4 {
		t.Fatalf("the simulator wrote %q, busybox %q", sim, real)
	}
	for _, n := range real[1:] {
		got := simExec(t, h, "cat "+esxi.Quote(dir+"/"+n))
		want, _ := os.ReadFile(filepath.Join(dir, n))
		if n != name+" copy c" {
			want = []byte(body)
		}
		if got != string(want) {
			t.Errorf("%q: simulator has %q, busybox %q", n, got, want)
		}
	}
}

// stat -c %f is the raw st_mode in hex, as busybox prints it.
func TestStatRawModeMatchesBusybox(t *testing.T) {
	bb := peer.Require(t, "busybox")
	h, err := New(loadScenario(t, "full.yaml"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bb, "stat", "-c", "%f %a %F", f, dir, "/dev/null").Output()
	if err != nil {
		t.Fatal(err)
	}
	got := simExec(t, h, "stat -c '%f %a %F' /etc/motd /etc /dev/null")
	if got != string(out) {
		t.Errorf("simulator %q, busybox %q", got, out)
	}
	st, err := esxi.ParseStat(simExec(t, h, mustCmd(t)(esxi.CmdStat("/etc/motd"))))
	if err != nil || !st.Mode.IsRegular() || st.Mode.Perm() != 0o644 {
		t.Errorf("esxi.ParseStat of the simulator: %+v, %v", st, err)
	}
}

func mustCmd(t *testing.T) func(string, error) string {
	return func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// The structured formatters carry each device's name in a Device field,
// as real esxcli does; the default list shows it as the block's title.
func TestCoreDeviceListDeviceField(t *testing.T) {
	h, err := New(loadScenario(t, "full.yaml"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	text, err := esxi.ParseEsxcliText(simExec(t, h, "esxcli storage core device list"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := esxi.CoreDevices(text)
	if err != nil || len(want) < 2 {
		t.Fatalf("%d devices, %v", len(want), err)
	}
	if strings.Contains(simExec(t, h, "esxcli storage core device list"), "   Device: ") {
		t.Error("the default formatter shows a Device field; real esxcli shows the name as the title only")
	}
	for _, f := range []struct {
		name  string
		parse func(string) ([]esxi.Record, error)
	}{{"csv", esxi.ParseCSV}, {"xml", esxi.ParseXML}} {
		out := simExec(t, h, "esxcli --formatter="+f.name+" storage core device list")
		recs, err := f.parse(out)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		for i, r := range recs {
			if r.Get("Device") == "" {
				t.Errorf("%s record %d has no Device field: %v", f.name, i, r)
			}
		}
		got, err := esxi.CoreDevices(recs)
		if err != nil || len(got) != len(want) {
			t.Fatalf("%s: %d devices, %v", f.name, len(got), err)
		}
		for i := range got {
			if got[i].Device != want[i].Device || got[i].DevfsPath != "/vmfs/devices/disks/"+got[i].Device {
				t.Errorf("%s: device %d is %q (%s), the text list says %q", f.name, i, got[i].Device, got[i].DevfsPath, want[i].Device)
			}
		}
	}
}

// esxi.CmdCopy's two-hash pipeline (mkfifo, a background sha256sum, wait,
// rm) runs in the simulator and both hashes are the source's.
func TestCopyWithFIFOComputesTwoHashes(t *testing.T) {
	h, err := New(loadScenario(t, "full.yaml"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	src := "/var/log/hostd.log"
	simExec(t, h, "esxcli system version get") // something in the logs
	data := simExec(t, h, "cat "+src)
	m, s := md5.Sum([]byte(data)), sha256.Sum256([]byte(data))
	for _, size := range []int64{0, int64(len(data))} {
		fifo := "/tmp/esxsink-test-1.fifo"
		cmd, err := esxi.CmdCopy(src, "/tmp/hostd copy", 1<<20, esxi.CopyOptions{Hashes: []esxi.HashAlg{esxi.SHA256, esxi.MD5}, FIFO: fifo, Size: size})
		if err != nil {
			t.Fatal(err)
		}
		simExec(t, h, "rm -f '/tmp/hostd copy'")
		out, errOut, rc := h.Exec(context.Background(), cmd)
		if rc != 0 {
			t.Fatalf("size %d: exit %d: %s", size, rc, errOut)
		}
		hh, err := esxi.CopyHashes(out, []esxi.HashAlg{esxi.MD5, esxi.SHA256})
		if size > 0 && (err != nil || hh[esxi.MD5] != hex.EncodeToString(m[:]) || hh[esxi.SHA256] != hex.EncodeToString(s[:])) {
			t.Errorf("hashes %v, %v; want %x %x", hh, err, m, s)
		}
		if size == 0 && (err != nil || len(hh) != 2) {
			t.Errorf("unsized copy: %v, %v", hh, err)
		}
		if _, _, rc := h.Exec(context.Background(), "[ -e "+esxi.Quote(fifo)+" ]"); rc == 0 {
			t.Errorf("the FIFO %s is left behind", fifo)
		}
	}
	if _, errOut, rc := h.Exec(context.Background(), "mkfifo /tmp/p && mkfifo /tmp/p"); rc == 0 || !strings.Contains(errOut, "File exists") {
		t.Errorf("mkfifo over an existing name: %d %q", rc, errOut)
	}
	if out := simExec(t, h, "ls -l /tmp/p; [ -p /tmp/p ] && echo pipe"); !strings.HasPrefix(out, "prw-r--r--") || !strings.HasSuffix(out, "pipe\n") {
		t.Errorf("ls -l of a FIFO: %q", out)
	}
}

// tail (used by the exercises) and head print what busybox prints for the
// same file, including several files with headers.
func TestHeadTailMatchBusybox(t *testing.T) {
	bb := peer.Require(t, "busybox")
	h, err := New(loadScenario(t, "full.yaml"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	dir := t.TempDir()
	for _, name := range []string{"passwd", "hosts"} {
		b, err := h.ReadFile("/etc/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range []string{"tail -n 2 passwd", "tail -3 passwd", "tail -c 20 passwd", "tail passwd hosts", "head -n 2 passwd", "head -c 7 hosts"} {
		c := exec.Command(bb, strings.Fields(args)...) // busybox's own applet
		c.Dir = dir
		want, err := c.Output()
		if err != nil {
			t.Fatalf("busybox %s: %v", args, err)
		}
		if got := simExec(t, h, "cd /etc && "+args); got != string(want) {
			t.Errorf("%s: simulator %q, busybox %q", args, got, want)
		}
	}
}
