package peer

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Ganesha is a running nfs-ganesha (VFS backend, NFSv3 over TCP on high
// ports): the reference NFS server the sink's speed is compared with.
type Ganesha struct {
	Export           string // the exported folder, where copies land
	NFSPort, MntPort int
	Pid              int
}

// URL is nfs-cp's address of name in the export.
func (g *Ganesha) URL(name string) string {
	return fmt.Sprintf("nfs://127.0.0.1%s/%s?nfsport=%d&mountport=%d&version=3", g.Export, name, g.NFSPort, g.MntPort)
}

// StartGanesha starts nfs-ganesha for the rest of tb, registered with
// rpcbind (which it needs; started when not running). A missing peer skips
// or fails as Require does.
func StartGanesha(tb testing.TB) *Ganesha {
	tb.Helper()
	gan := Require(tb, "ganesha.nfsd")
	rpcbind := Require(tb, "rpcbind")
	ls := Require(tb, "nfs-ls")
	if exec.Command("pgrep", "-x", "rpcbind").Run() != nil {
		if out, err := exec.Command(rpcbind, "-w").CombinedOutput(); err != nil {
			tb.Fatalf("start rpcbind for nfs-ganesha: %v %s", err, out)
		}
	}
	dir := tb.TempDir()
	g := &Ganesha{Export: filepath.Join(dir, "export"), NFSPort: freePort(tb), MntPort: freePort(tb)}
	if err := os.Mkdir(g.Export, 0o755); err != nil {
		tb.Fatal(err)
	}
	conf := fmt.Sprintf(`NFS_CORE_PARAM { NFS_Port = %d; MNT_Port = %d; NLM_Port = %d; Rquota_Port = %d; Protocols = 3; Enable_NLM = false; Enable_RQUOTA = false; }
NFSV4 { Graceless = true; }
EXPORT { Export_Id = 1; Path = %s; Pseudo = /bench; Access_Type = RW; Squash = No_Root_Squash; Protocols = 3; Transports = TCP; FSAL { Name = VFS; } }
LOG { Default_Log_Level = WARN; }
`, g.NFSPort, g.MntPort, freePort(tb), freePort(tb), g.Export)
	confPath := filepath.Join(dir, "ganesha.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(gan, "-F", "-L", filepath.Join(dir, "log"), "-f", confPath, "-p", filepath.Join(dir, "pid"))
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start nfs-ganesha: %v", err)
	}
	g.Pid = cmd.Process.Pid
	// SIGTERM lets ganesha withdraw its rpcbind registrations.
	tb.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	// ganesha gives no readiness signal: poll until it lists the export.
	root := fmt.Sprintf("nfs://127.0.0.1%s?nfsport=%d&mountport=%d&version=3", g.Export, g.NFSPort, g.MntPort)
	var last string
	for range 100 {
		out, err := exec.Command(ls, root).CombinedOutput()
		if err == nil {
			return g
		}
		last = fmt.Sprintf("%v: %s", err, strings.TrimSpace(string(out)))
		time.Sleep(200 * time.Millisecond)
	}
	tb.Fatalf("nfs-ganesha did not come up: %s", last)
	return nil
}

func freePort(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ProcCPU is the CPU time (user + system) process pid has used so far,
// read from /proc (Linux; clock-tick resolution).
func ProcCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatalf("CPU time of %d: %v", pid, err)
	}
	// The command name (field 2) may hold spaces; fields count from its ')'.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	const ticksPerSecond = 100 // USER_HZ, the same on every Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

// ProcPeakRSS is the peak resident set (VmHWM) of process pid, in bytes.
func ProcPeakRSS(tb testing.TB, pid int) int64 {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatalf("memory of %d: %v", pid, err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			var kib int64
			fmt.Sscan(f[1], &kib)
			return kib << 10
		}
	}
	tb.Fatalf("no VmHWM for %d", pid)
	return 0
}
