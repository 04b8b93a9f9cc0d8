package esxsim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/esxsink/esxsink/internal/peer"
)

// sftpLab has a powered-off VM whose disk can be read, and a running one
// whose disk is locked.
const sftpLab = `
host: {hostname: esx-sftp, version: 8.0.2, build: "22380479", user: root, password: "Sftp-Lab-1!"}
datastores: [{name: datastore1, type: VMFS-6}]
vms:
  - {id: 1, name: Running, power: "on", memory_mb: 16, disks: [{size: 2MiB, kind: thin}]}
  - {id: 2, name: Off server, power: "off", memory_mb: 16, disks: [{size: 6MiB, kind: thick}]}
`

const sftpOffDisk = "/vmfs/volumes/datastore1/Off server/Off server-flat.vmdk"

func startSFTPHost(t *testing.T) *testHost {
	t.Helper()
	sc, err := ParseScenario([]byte(sftpLab))
	if err != nil {
		t.Fatal(err)
	}
	return startHost(t, sc, nil)
}

// The real OpenSSH sftp client gets a disk in batch mode: the bytes are
// the simulator's generated disk, and a locked disk and an upload fail.
func TestSFTPOpenSSHGet(t *testing.T) {
	sftpBin := peer.Require(t, "sftp")
	th := startSFTPHost(t)
	want, err := th.ReadFile(sftpOffDisk)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 6<<20 || bytes.Count(want, []byte{0}) == len(want) {
		t.Fatalf("generated disk: %d bytes, all zero %v", len(want), bytes.Count(want, []byte{0}) == len(want))
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "disk.bin")
	run := func(batch string) (string, int) {
		t.Helper()
		bf := filepath.Join(dir, "batch")
		if err := os.WriteFile(bf, []byte(batch), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, sftpBin, "-b", bf, "-F", "/dev/null", "-P", th.port,
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
			"-i", th.keyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", th.User()+"@127.0.0.1")
		b, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("sftp: %v", err)
		}
		return string(b), cmd.ProcessState.ExitCode()
	}
	text, code := run("get \"" + sftpOffDisk + "\" " + out + "\nls -l \"/vmfs/volumes/datastore1/Off server\"\n")
	if code != 0 {
		t.Fatalf("sftp get: exit %d\n%s", code, text)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatalf("sftp get gave %d bytes that differ from the simulator's %d", len(got), len(want))
	}
	if !strings.Contains(text, "Off server-flat.vmdk") || !strings.Contains(text, "6291456") {
		t.Errorf("ls -l of the VM folder does not show the flat extent and its size:\n%s", text)
	}
	// A running VM's disk is locked, as on ESXi.
	if text, code := run("get /vmfs/volumes/datastore1/Running/Running-flat.vmdk " + filepath.Join(dir, "locked.bin") + "\n"); code == 0 {
		t.Errorf("get of a running VM's locked disk succeeded:\n%s", text)
	}
	// The simulator's SFTP is read-only.
	if text, code := run("put " + out + " /tmp/uploaded\n"); code == 0 {
		t.Errorf("put succeeded on the read-only SFTP:\n%s", text)
	}
	if _, err := th.ReadFile("/tmp/uploaded"); err == nil {
		t.Error("put created /tmp/uploaded on the host")
	}
	var sessions int
	for _, c := range th.Footprint() {
		if c.Kind == "subsystem" && c.Line == "sftp" {
			sessions++
		}
	}
	if sessions != 3 {
		t.Errorf("footprint has %d sftp sessions, want 3: %+v", sessions, th.Footprint())
	}
}

// sftpClient opens a pkg/sftp client on the host with the test key.
func sftpClient(t *testing.T, th *testHost) *sftp.Client {
	t.Helper()
	b, err := os.ReadFile(th.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ssh.Dial("tcp", th.Addr().String(), &ssh.ClientConfig{User: th.User(),
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.FixedHostKey(th.HostKey())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pkg/sftp's client reads the same bytes, stats devices and symlinks, and
// an injected bad sector comes back as an SFTP error naming the I/O error.
func TestSFTPClientReadsAndFaults(t *testing.T) {
	th := startSFTPHost(t)
	c := sftpClient(t, th)
	want, err := th.ReadFile(sftpOffDisk)
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.Open(sftpOffDisk)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := f.WriteTo(&got); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("pkg/sftp read %d bytes that differ from the simulator's %d", got.Len(), len(want))
	}
	fi, err := c.Stat(sftpOffDisk)
	if err != nil || fi.Size() != int64(len(want)) || !fi.Mode().IsRegular() {
		t.Fatalf("stat: %v %v", fi, err)
	}
	ents, err := c.ReadDir("/vmfs/volumes/datastore1/Off server")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !strings.Contains(strings.Join(names, "\n"), "Off server.vmx") {
		t.Errorf("readdir: %q", names)
	}
	// datastore1 is a symlink to the volume's UUID folder, as on ESXi.
	if li, err := c.Lstat("/vmfs/volumes/datastore1"); err != nil || li.Mode()&os.ModeSymlink == 0 {
		t.Errorf("lstat datastore1: %v %v", li, err)
	} else if target, err := c.ReadLink("/vmfs/volumes/datastore1"); err != nil || target == "" {
		t.Errorf("readlink datastore1: %q %v", target, err)
	}
	// Devices (RDM LUNs, USB disks) read like files.
	devs, err := c.ReadDir("/vmfs/devices/disks")
	if err != nil || len(devs) == 0 {
		t.Fatalf("devices: %v %v", devs, err)
	}
	dev := "/vmfs/devices/disks/" + devs[0].Name()
	df, err := c.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 4096)
	if _, err := io.ReadFull(df, head); err != nil {
		t.Errorf("read device %s: %v", dev, err)
	}
	df.Close()

	// A bad sector in the middle.
	if err := th.AddFault(Fault{Kind: FaultBadSectors, Path: sftpOffDisk, Offset: 3 << 20, Length: 4096}); err != nil {
		t.Fatal(err)
	}
	f, err = c.Open(sftpOffDisk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := f.WriteTo(io.Discard)
	// SFTP v3 has no status code for an I/O error: the server's message
	// is all the client (and the custody record) gets.
	if err == nil || !strings.Contains(err.Error(), "input/output error") {
		t.Fatalf("read over a bad sector: %d bytes, err %v", n, err)
	}
	if n > 3<<20 {
		t.Errorf("read %d bytes, past the bad sector at %d", n, 3<<20)
	}
	if th.FaultsFired()[FaultBadSectors] == 0 {
		t.Error("the bad sector fault never fired")
	}
	// Writes are refused.
	if _, err := c.Create("/tmp/x"); err == nil {
		t.Error("create succeeded on the read-only SFTP")
	}
}
