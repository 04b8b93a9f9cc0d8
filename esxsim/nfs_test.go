package esxsim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/esxsink/esxsink/custody"
)

// TestNFSMountCopyUnmount is the acquisition path end to end: esxcfg-nas
// -a mounts the real sink over NFSv3 (portmapper, MOUNT, NFS), a 1 GiB
// generated disk is copied with dd | tee | md5sum onto the mount, and
// esxcfg-nas -d detaches it. The sink's hash of what arrived must equal
// the host's own md5sum of the source.
func TestNFSMountCopyUnmount(t *testing.T) {
	th, ts := startHostWithSink(t, "basic.yaml", nil)
	out := th.mustSSH("esxcfg-nas -a -o 127.0.0.1 -s /esxsink esxsink")
	mustEqual(t, "esxcfg-nas -a", out, "Connecting to NAS volume: esxsink\nesxsink created and connected.\n")
	mustEqual(t, "esxcfg-nas -l", th.mustSSH("esxcfg-nas -l"), "esxsink is /esxsink from 127.0.0.1 mounted available\n")
	tab := parseTable(t, th.mustSSH("esxcli storage nfs list"))
	if len(tab) != 1 || tab[0]["Volume Name"] != "esxsink" || tab[0]["Accessible"] != "true" || tab[0]["Share"] != "/esxsink" {
		t.Fatalf("nfs list %v", tab)
	}
	th.mustSSH("mkdir '/vmfs/volumes/esxsink/Unused server'")

	src := "/vmfs/volumes/datastore1/Unused server/Unused server-flat.vmdk"
	dst := "/vmfs/volumes/esxsink/Unused server/Unused server-flat.vmdk"
	size := int64(1 << 30)
	if testing.Short() {
		size = 64 << 20
	}
	start := time.Now()
	r := th.ssh("publickey", fmt.Sprintf("dd if=%s bs=1M count=%d conv=noerror,sync | tee %s | md5sum", shQuote(src), size>>20, shQuote(dst)), nil)
	took := time.Since(start)
	if r.code != 0 {
		t.Fatalf("copy: exit %d: %s", r.code, r.stderr)
	}
	mustEqual(t, "dd summary", r.stderr, fmt.Sprintf("%d+0 records in\n%d+0 records out\n", size>>20, size>>20))
	hostMD5 := strings.TrimSuffix(r.stdout, "  -\n")
	st := th.State()
	if len(st.Mounts) != 1 || st.Mounts[0].MaxInFlight < 2 || st.Mounts[0].BytesWritten != size || st.Mounts[0].OpenFiles != 0 {
		t.Fatalf("mount state after the copy: %+v", st.Mounts)
	}
	t.Logf("copied %d MiB through dd | tee | md5sum onto the NFS mount in %v (%.0f MiB/s); at most %d RPCs in flight",
		size>>20, took.Round(time.Millisecond), float64(size>>20)/took.Seconds(), st.Mounts[0].MaxInFlight)

	res, err := ts.Finalize(context.Background(), "Unused server/Unused server-flat.vmdk", "test", size, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Hashes["md5"] != hostMD5 || len(res.Anomalies) != 0 || res.Size != size {
		t.Fatalf("sink md5 %s (anomalies %v, %d bytes), host md5sum %s", res.Hashes["md5"], res.Anomalies, res.Size, hostMD5)
	}
	// The listing goes through READDIRPLUS, and md5sum of the copy
	// through READ.
	ls := th.mustSSH("ls -l '/vmfs/volumes/esxsink/Unused server'")
	if !strings.Contains(ls, fmt.Sprintf(" %d ", size)) || !strings.Contains(ls, "Unused server-flat.vmdk") {
		t.Fatalf("ls on the mount: %s", ls)
	}
	if testing.Short() {
		if back := th.mustSSH("md5sum " + shQuote(dst)); !strings.HasPrefix(back, hostMD5) {
			t.Fatalf("md5sum of the copy read back over NFS: %s", back)
		}
	}
	// Heartbeats run while the volume is mounted: wait for the first
	// (a condition with a deadline, not a guessed sleep).
	for deadline := time.Now().Add(30 * time.Second); th.State().Mounts[0].Heartbeats == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no GETATTR heartbeat within 30 s of mounting")
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
	mustEqual(t, "esxcfg-nas -d", th.mustSSH("esxcfg-nas -d esxsink"), "NAS volume esxsink deleted.\n")
	if st := th.State(); len(st.Mounts) != 0 {
		t.Fatalf("mount left behind: %+v", st.Mounts)
	}
	mustEqual(t, "esxcfg-nas -l after -d", th.mustSSH("esxcfg-nas -l"), "No NAS datastore found\n")
	if r := th.ssh("publickey", "ls /vmfs/volumes/esxsink", nil); r.code == 0 {
		t.Fatal("the label still resolves after unmount")
	}
	if ts.Log.Count(custody.TypeMountAccepted) != 1 || ts.Log.Count(custody.TypeMountReleased) != 1 {
		t.Fatalf("sink saw %d mounts and %d releases", ts.Log.Count(custody.TypeMountAccepted), ts.Log.Count(custody.TypeMountReleased))
	}
	fi, err := os.Stat(filepath.Join(ts.Evidence, "Unused server", "Unused server-flat.vmdk"))
	if err != nil || fi.Size() != size {
		t.Fatalf("evidence file: %v %v", fi, err)
	}
}

// TestNFSMountErrors checks ESXi's answers for a server that is not
// there, an export that is refused, a label in use and an unmount of an
// unknown label.
func TestNFSMountErrors(t *testing.T) {
	th, ts := startHostWithSink(t, "basic.yaml", func(c *Config) { c.MountTimeout = 3 * time.Second })
	r := th.ssh("publickey", "esxcfg-nas -a -o 127.0.0.1 -s /not-exported evid", nil)
	if r.code != 1 || !strings.Contains(r.stdout, "Connecting to NAS volume: evid\n") || !strings.Contains(r.stdout, "The NFS server denied the mount request") {
		t.Fatalf("refused export: %+v", r)
	}
	if !strings.Contains(th.mustSSH("cat /var/log/vmkernel.log"), "The mount request was denied by the NFS server") {
		t.Fatal("vmkernel.log does not record the refused mount")
	}
	r = th.ssh("publickey", "esxcli storage nfs add -H 127.0.0.1 -s /esxsink -v datastore1", nil)
	if r.code != 1 || r.stdout == "" {
		t.Fatalf("label of an existing datastore: %+v", r)
	}
	th.mustSSH("esxcli storage nfs add --host=127.0.0.1 --share=/esxsink --volume-name=ev1")
	r = th.ssh("publickey", "esxcli storage nfs add --host=127.0.0.1 --share=/esxsink --volume-name=ev2", nil)
	mustEqual(t, "second mount of one share", r.stdout, "Unable to create new NAS volume.  127.0.0.1:/esxsink is already exported by a volume with the name ev1\n")
	r = th.ssh("publickey", "esxcfg-nas -d nothere", nil)
	if r.code != 1 || !strings.Contains(r.stdout, "Error performing operation") {
		t.Fatalf("unmount of an unknown label: %+v", r)
	}
	th.mustSSH("esxcli storage nfs remove -v ev1")
	ts.Close("gone")
	r = th.ssh("publickey", "esxcfg-nas -a -o 127.0.0.1 -s /esxsink ev3", nil)
	if r.code != 1 || !strings.Contains(r.stdout, "Unable to connect to NFS server") {
		t.Fatalf("mount of a stopped sink: %+v", r)
	}
	if len(th.State().Mounts) != 0 {
		t.Fatal("a failed mount left a volume behind")
	}
}
