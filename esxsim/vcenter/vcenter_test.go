package vcenter

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/esxsim"
)

// TestTLSThumbprint: the printed thumbprint is the SHA-256 of the
// certificate the server presents; a client pinning another is refused,
// one trusting the system's CAs is refused, the pinned one logs in. A
// certificate file keeps the thumbprint across restarts.
func TestTLSThumbprint(t *testing.T) {
	l := startLab(t)
	conn, err := tls.Dial("tcp", l.vc.URL().Host, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].Raw)
	conn.Close()
	var hex []string
	for _, b := range sum {
		hex = append(hex, fmt.Sprintf("%02X", b))
	}
	mustEqual(t, "thumbprint", l.vc.Thumbprint(), strings.Join(hex, ":"))

	wrong := strings.Repeat("AB:", 31) + "AB"
	if _, err := l.connect(wrong); err == nil || !strings.Contains(err.Error(), "thumbprint") {
		t.Fatalf("a wrong thumbprint: %v", err)
	}
	if _, err := l.connect(""); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("no thumbprint, no CA: %v", err)
	}
	l.client()

	file := filepath.Join(t.TempDir(), "vcenter.pem")
	a, err := loadOrCreateCert(file, "vcsa01", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadOrCreateCert(file, "vcsa01", "127.0.0.1:0")
	if err != nil || !a.Leaf.Equal(b.Leaf) {
		t.Fatalf("certificate file not kept: %v", err)
	}
}

// TestMirrorsTheHosts: what changes on a host behind the vCenter's back
// (a VM powered on, SSH stopped by the host itself, lockdown entered at
// the console) is what the next read of the API reports.
func TestMirrorsTheHosts(t *testing.T) {
	l := startLab(t)
	ctx := context.Background()
	c := l.client()
	f := find.NewFinder(c.Client)
	dc, err := f.DefaultDatacenter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	vm, err := f.VirtualMachine(ctx, "Web01")
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := vm.PowerState(ctx); st != types.VirtualMachinePowerStatePoweredOff {
		t.Fatalf("Web01 at start: %s", st)
	}
	if err := l.fleet.Host("esx01").SetPower("Web01", true); err != nil {
		t.Fatal(err)
	}
	if st, _ := vm.PowerState(ctx); st != types.VirtualMachinePowerStatePoweredOn {
		t.Fatalf("Web01 powered on at the host, the API says %s", st)
	}
	hs, ss := hostObjects(t, c, "esx02")
	if err := l.fleet.Host("esx02").StopSSH("console"); err != nil {
		t.Fatal(err)
	}
	if s := sshServiceOf(t, hs, ss); s.Running {
		t.Fatalf("SSH stopped at the host, the API says %+v", s)
	}
	if err := l.fleet.Host("esx02").SetLockdown("console", esxsim.LockdownStrict); err != nil {
		t.Fatal(err)
	}
	var h mo.HostSystem
	if err := hs.Properties(ctx, hs.Reference(), []string{"config.lockdownMode"}, &h); err != nil || h.Config.LockdownMode != types.HostLockdownModeLockdownStrict {
		t.Fatalf("lockdown entered at the host, the API says %+v %v", h.Config, err)
	}
}

// TestRefusesWhatWouldDisagree: the API does not change VMs or their
// files behind the hosts (a power operation, a snapshot, a rename, a
// datastore file transfer): a NotSupported fault or a 403 says to use
// the host. Nothing changes on the host.
func TestRefusesWhatWouldDisagree(t *testing.T) {
	l := startLab(t)
	ctx := context.Background()
	c := l.client()
	f := find.NewFinder(c.Client)
	dc, _ := f.DefaultDatacenter(ctx)
	f.SetDatacenter(dc)
	vm, err := f.VirtualMachine(ctx, "DB01")
	if err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() (*object.Task, error){
		"power off": func() (*object.Task, error) { return vm.PowerOff(ctx) },
		"snapshot":  func() (*object.Task, error) { return vm.CreateSnapshot(ctx, "x", "", false, false) },
		"rename":    func() (*object.Task, error) { return vm.Rename(ctx, "DB02") },
	} {
		task, err := call()
		if err == nil {
			err = task.Wait(ctx)
		}
		if !refusedByLab(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if st := l.fleet.Host("esx02").State(); st.VMs[0].Power != "on" || len(st.VMs[0].Snapshots) != 1 {
		t.Fatalf("the host changed: %+v", st.VMs[0])
	}
	u := l.vc.URL()
	u.Path = "/folder/DB01/DB01.vmx"
	u.RawQuery = "dcPath=Forensics-DC&dsName=shared-vmfs01"
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, method := range []string{http.MethodGet, http.MethodPut} {
		req, _ := http.NewRequest(method, u.String(), strings.NewReader("x"))
		req.SetBasicAuth(l.vc.User(), l.vc.Password())
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s /folder: %s", method, resp.Status)
		}
	}
}

// TestSettingsAndHistory: each host's advanced settings are in its
// OptionManager as the scenario sets them, and the scenario's events are
// in the history, dated that long before the lab started, where "the
// last 30 days" finds them.
func TestSettingsAndHistory(t *testing.T) {
	l := startLab(t)
	ctx := context.Background()
	c := l.client()
	hs, _ := hostObjects(t, c, "esx03")
	om, err := hs.ConfigManager().OptionManager(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"Syslog.global.logHost": "udp://192.0.2.10:514", "VMkernel.Boot.execInstalledOnly": true, "UserVars.ESXiShellTimeOut": int64(0)}
	for k, v := range want {
		opts, err := om.Query(ctx, k)
		if err != nil || len(opts) != 1 || opts[0].GetOptionValue().Value != v {
			t.Errorf("%s: %+v %v, want %v", k, opts, err, v)
		}
	}
	begin := time.Now().Add(-30 * 24 * time.Hour)
	events, err := event.NewManager(c.Client).QueryEvents(ctx, types.EventFilterSpec{
		Time: &types.EventFilterSpecByTime{BeginTime: &begin}, MaxCount: 1000,
		EventTypeId: []string{"UserLoginSessionEvent", "UserLogoutSessionEvent", "esx.audit.ssh.enabled", "com.vmware.vc.vm.VmStateFailedToRevertToSnapshot"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		ev := e.GetEvent()
		age := time.Since(ev.CreatedTime).Round(time.Hour)
		switch x := e.(type) {
		case *types.UserLoginSessionEvent:
			if x.IpAddress == "203.0.113.66" {
				got = append(got, fmt.Sprintf("login %s %s", ev.UserName, age))
			}
		case *types.UserLogoutSessionEvent:
			got = append(got, fmt.Sprintf("logout %s %s", ev.UserName, age))
		case *types.EventEx:
			on := ""
			if ev.Host != nil {
				on = ev.Host.Name
			}
			if ev.Vm != nil {
				on = ev.Vm.Name
			}
			got = append(got, fmt.Sprintf("%s %s %s", x.EventTypeId, on, age))
		}
	}
	mustEqual(t, "scenario events", sorted(got), sorted([]string{
		`login VSPHERE.LOCAL\svc-backup 50h0m0s`, `esx.audit.ssh.enabled esx02 50h0m0s`,
		`com.vmware.vc.vm.VmStateFailedToRevertToSnapshot DB01 49h0m0s`, `logout VSPHERE.LOCAL\svc-backup 48h0m0s`,
	}))
}

// refusedByLab: err is the lab's NotSupported fault, its message saying
// to change the host through its shell.
func refusedByLab(err error) bool {
	if err == nil || !soap.IsSoapFault(err) {
		return false
	}
	f, ok := soap.ToSoapFault(err).VimFault().(types.NotSupported)
	return ok && len(f.FaultMessage) == 1 && strings.Contains(f.FaultMessage[0].Message, "through its shell")
}
