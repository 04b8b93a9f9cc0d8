package nfssink

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/esxsink/esxsink/internal/peer"
)

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestBuiltinPortmap answers GETPORT for MOUNT and NFS v3/TCP over TCP
// (as ESXi asks) and UDP, and DUMP.
func TestBuiltinPortmap(t *testing.T) {
	t.Parallel()
	pm := freePort(t)
	ts := newTestSink(t, func(c *Config) { c.Portmap = "builtin"; c.PortmapPort = pm })
	addr := ts.PortmapAddr().String()
	c := dialRPC(t, addr)
	for _, prog := range []uint32{progMount, progNFS} {
		port, err := c.GetPort(c.ctx, prog, 3)
		if err != nil {
			t.Fatalf("GETPORT over TCP: %v", err)
		}
		if port != ts.nfsPort {
			t.Fatalf("GETPORT(%d) = %d, want %d", prog, port, ts.nfsPort)
		}
	}
	// UDP: NFS over UDP is not served, so the answer is port 0.
	if ok, err := pmapCall(addr, pmapProcGetport, mapping{progMount, 3, ipprotoTCP, 0}); err != nil || !ok {
		t.Fatalf("GETPORT over UDP: %v %v", ok, err)
	}
	if ok, _ := pmapCall(addr, pmapProcGetport, mapping{progNFS, 3, ipprotoUDP, 0}); ok {
		t.Fatal("GETPORT for NFS over UDP answered a port")
	}
	r, err := c.Call(c.ctx, progPortmap, 2, pmapProcDump, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for more, _ := r.Bool(); more; more, _ = r.Bool() {
		r.Fixed(16) // prog, vers, prot, port
		n++
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	if n != 2 {
		t.Fatalf("DUMP lists %d mappings, want 2", n)
	}
	if ok, _ := pmapCall(addr, pmapProcSet, mapping{100021, 4, ipprotoTCP, 1234}); ok {
		t.Fatal("SET from a stranger accepted")
	}
}

// TestPortmapOnStandardPort: as root, with nothing on port 111, libnfs
// finds mountd and NFS through our portmapper exactly as ESXi does: no
// ports in the URL.
func TestPortmapOnStandardPort(t *testing.T) {
	if os.Geteuid() != 0 {
		if peer.Required() {
			t.Fatal("this test needs root to bind port 111 (CI runs as root)")
		}
		t.Skip("needs root to bind port 111")
	}
	if c, err := net.Dial("tcp", "127.0.0.1:111"); err == nil {
		c.Close()
		t.Skip("port 111 is taken (rpcbind running); covered by TestRpcbindRegistration")
	}
	cp := nfsCp(t)
	ts := newTestSink(t, func(c *Config) { c.Portmap = "builtin"; c.PortmapPort = 111 })
	src := randomFile(t, 1<<20)
	out, err := exec.Command(cp, src, "nfs://127.0.0.1/esxsink/via-portmap.bin").CombinedOutput()
	if err != nil {
		t.Fatalf("nfs-cp through the portmapper: %v\n%s", err, out)
	}
	if _, err := ts.Finalize(context.Background(), "via-portmap.bin", "api", 1<<20, false); err != nil {
		t.Fatal(err)
	}
}

// TestBindErrorsExplainTheFix: a refused privileged port names the fixes.
func TestBindErrorsExplainTheFix(t *testing.T) {
	t.Parallel()
	err := bindError("portmapper", "0.0.0.0:111", &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EACCES)})
	var be *BindError
	if !errors.As(err, &be) || !be.Privileged || be.InUse {
		t.Fatalf("a refused privileged port is not a privileged BindError: %#v", err)
	}
	// The fixes are read by the examiner: the words are the product.
	for _, want := range []string{"0.0.0.0:111", "root", "cap_net_bind_service"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("bind error lacks %q: %v", want, err)
		}
	}
	if os.Geteuid() != 0 {
		if _, err := listenTCP("127.0.0.1", 111, "portmapper"); !errors.As(err, &be) || !be.Privileged {
			t.Fatalf("real refusal is not a privileged BindError: %v", err)
		}
	}
}

// TestRpcbindRegistration: with --portmap=rpcbind the sink registers with
// the system's rpcbind (started here), libnfs finds it through rpcbind,
// and the registration is withdrawn when the sink stops.
func TestRpcbindRegistration(t *testing.T) {
	if os.Geteuid() != 0 {
		if peer.Required() {
			t.Fatal("this test needs root to run rpcbind (CI runs as root)")
		}
		t.Skip("needs root")
	}
	rpcbind := peer.Require(t, "rpcbind")
	if c, err := net.Dial("tcp", "127.0.0.1:111"); err == nil {
		c.Close()
	} else {
		cmd := exec.Command(rpcbind, "-f") // no -w: a warm start would restore stale registrations
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		for i := 0; i < 100; i++ {
			if c, err := net.Dial("tcp", "127.0.0.1:111"); err == nil {
				c.Close()
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ts := newTestSink(t, func(c *Config) { c.Portmap = "auto"; c.PortmapPort = 111 })
	if !strings.Contains(ts.portmap.describe(), "rpcbind") {
		t.Fatalf("auto did not fall back to rpcbind: %s", ts.portmap.describe())
	}
	src := randomFile(t, 1<<20)
	if out, err := exec.Command(nfsCp(t), src, "nfs://127.0.0.1/esxsink/via-rpcbind.bin").CombinedOutput(); err != nil {
		t.Fatalf("nfs-cp through rpcbind: %v\n%s", err, out)
	}
	ts.Close("test")
	if ok, _ := pmapCall("127.0.0.1:111", pmapProcGetport, mapping{progMount, 3, ipprotoTCP, 0}); ok {
		t.Fatal("registration left behind in rpcbind after Close")
	}
}
