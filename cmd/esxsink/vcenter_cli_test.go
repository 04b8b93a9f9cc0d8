package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/vsphere"
)

// simVCenter is a vcsim vCenter over real TLS (the simulator's own
// certificate), with a user and password of its own.
type simVCenter struct {
	model      *simulator.Model
	server     *simulator.Server
	addr       string
	thumbprint string
	user, pass string
}

// startVCenter serves a simulated vCenter until the test ends. vcsim
// keeps global state that two models being created at once race on, so
// the tests that start one do not run in parallel with each other.
func startVCenter(t *testing.T) *simVCenter {
	t.Helper()
	m := simulator.VPX()
	m.Datacenter, m.Datastore = 2, 2
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Remove)
	v := &simVCenter{model: m, user: "administrator@vsphere.local", pass: "Vc-Lab-1!"}
	m.Service.Listen = &url.URL{User: url.UserPassword(v.user, v.pass)}
	m.Service.TLS = new(tls.Config) // served with httptest's localhost certificate
	v.server = m.Service.NewServer()
	t.Cleanup(v.server.Close)
	v.addr = v.server.URL.Host
	v.thumbprint = vsphere.Thumbprint(v.server.Certificate())
	return v
}

// snapshot takes a snapshot of vm through the API, as its administrator
// would, trusting the simulator by govmomi's own thumbprint check.
func (v *simVCenter) snapshot(t *testing.T, vm *simulator.VirtualMachine, name string) {
	t.Helper()
	ctx := t.Context()
	u := *v.server.URL
	sc := soap.NewClient(&u, false)
	sc.SetThumbprint(u.Host, v.thumbprint)
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	sm := session.NewManager(vc)
	if err := sm.Login(ctx, u.User); err != nil {
		t.Fatal(err)
	}
	defer sm.Logout(context.Background())
	task, err := object.NewVirtualMachine(vc, vm.Self).CreateSnapshot(ctx, name, "", false, false)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// run runs esxsink with the vCenter password in the environment and
// returns stdout, stderr and the exit status.
func (v *simVCenter) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(esxsinkBin, args...)
	cmd.Env = append(os.Environ(), "ESXSINK_VCENTER_PASSWORD="+v.pass)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func (v *simVCenter) args(extra ...string) []string {
	return append([]string{"inventory", "--vcenter", v.addr, "--vcenter-user", v.user}, extra...)
}

// TestInventoryVCenterJSON: inventory --vcenter --json lists every host,
// datastore and VM the simulated vCenter holds, and says the same twice.
func TestInventoryVCenterJSON(t *testing.T) {
	v := startVCenter(t)
	var runs [2]string
	for i := range runs {
		out, errOut, code := v.run(t, v.args("--vcenter-thumbprint", v.thumbprint, "--json")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		runs[i] = out
	}
	if runs[0] != runs[1] {
		t.Errorf("two runs differ:\n%s\n---\n%s", runs[0], runs[1])
	}
	var inv vsphere.Inventory
	if err := json.Unmarshal([]byte(runs[0]), &inv); err != nil {
		t.Fatal(err)
	}
	reg := v.model.Map()
	var hosts, stores, vms []string
	for _, h := range inv.AllHosts() {
		hosts = append(hosts, h.MoRef+" "+h.Name)
	}
	for _, dc := range inv.Datacenters {
		for _, ds := range dc.Datastores {
			stores = append(stores, ds.MoRef+" "+ds.Name)
		}
	}
	for _, vm := range inv.AllVMs() {
		vms = append(vms, vm.MoRef+" "+vm.Name+" on "+vm.Host)
	}
	var wantHosts, wantStores, wantVMs []string
	for _, e := range reg.All("HostSystem") {
		wantHosts = append(wantHosts, e.Reference().Value+" "+e.Entity().Name)
	}
	for _, e := range reg.All("Datastore") {
		wantStores = append(wantStores, e.Reference().Value+" "+e.Entity().Name)
	}
	for _, e := range reg.All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		wantVMs = append(wantVMs, vm.Self.Value+" "+vm.Name+" on "+reg.Get(*vm.Runtime.Host).(*simulator.HostSystem).Name)
	}
	for _, c := range []struct {
		what      string
		got, want []string
	}{{"hosts", hosts, wantHosts}, {"datastores", stores, wantStores}, {"VMs", vms, wantVMs}} {
		slices.Sort(c.got)
		slices.Sort(c.want)
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: %v, the simulator has %v", c.what, c.got, c.want)
		}
	}
}

// TestInventoryVCenterTree: the readable tree shows the datacenters,
// clusters, hosts with their state, VMs under their hosts and the
// datastores with the hosts that mount them, hosts' and VMs' columns
// aligned at every depth.
func TestInventoryVCenterTree(t *testing.T) {
	v := startVCenter(t)
	reg := v.model.Map()
	locked := reg.Any("HostSystem").(*simulator.HostSystem)
	locked.Config.LockdownMode = types.HostLockdownModeLockdownNormal
	snapped := reg.Any("VirtualMachine").(*simulator.VirtualMachine)
	v.snapshot(t, snapped, "before patch")
	ca, err := v.server.CertificateFile()
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := v.run(t, v.args("--vcenter-ca", ca)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, e := range slices.Concat(reg.All("Datacenter"), reg.All("ClusterComputeResource"), reg.All("HostSystem"), reg.All("Datastore"), reg.All("VirtualMachine")) {
		if !strings.Contains(out, " "+e.Entity().Name) {
			t.Errorf("the tree does not show %s %s:\n%s", e.Reference().Type, e.Entity().Name, out)
		}
	}
	if !regexp.MustCompile(`(?m)^ +host ` + regexp.QuoteMeta(locked.Name) + ` .*LOCKDOWN normal .*SSH stopped \(policy off\)$`).MatchString(out) {
		t.Errorf("host %s is not shown in lockdown with SSH stopped:\n%s", locked.Name, out)
	}
	if !regexp.MustCompile(`(?m)^ +vm ` + regexp.QuoteMeta(snapped.Name) + ` .*\n +snapshot 1 "before patch"  20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ  \(current\)$`).MatchString(out) {
		t.Errorf("VM %s's snapshot is not shown under it:\n%s", snapped.Name, out)
	}
	if !strings.Contains(out, "mounted by ") || !strings.Contains(out, "CA file "+ca) {
		t.Errorf("no datastore mounts or no trust named:\n%s", out)
	}
	for _, kind := range []string{"host", "vm"} {
		// The second column (address, power state) starts at one offset.
		re := regexp.MustCompile(`(?m)^( *` + kind + ` \S+ +)\S`)
		starts := map[int]bool{}
		for _, m := range re.FindAllStringSubmatch(out, -1) {
			starts[len(m[1])] = true
		}
		if len(starts) != 1 {
			t.Errorf("%s lines' second column starts at %d offsets:\n%s", kind, len(starts), out)
		}
	}
}

// TestInventoryVCenterTrust: an unknown certificate is refused with its
// thumbprint and the flag to pin it; a wrong pin is refused loudly; a
// wrong password says what to check.
func TestInventoryVCenterTrust(t *testing.T) {
	v := startVCenter(t)
	_, errOut, code := v.run(t, v.args()...)
	if code != 1 || !strings.Contains(errOut, "--vcenter-thumbprint "+v.thumbprint) || !strings.Contains(errOut, "out of band") {
		t.Errorf("unknown certificate: exit %d, %s", code, errOut)
	}
	other := strings.Repeat("AB:", 31) + "AB"
	_, errOut, code = v.run(t, v.args("--vcenter-thumbprint", other)...)
	if code != 1 || !strings.Contains(errOut, "IS NOT THE PINNED ONE") || !strings.Contains(errOut, v.thumbprint) {
		t.Errorf("wrong pin: exit %d, %s", code, errOut)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = v.run(t, v.args("--vcenter-thumbprint", v.thumbprint, "--vcenter-password-file", pwFile)...)
	if code != 1 || !strings.Contains(errOut, "login refused") || !strings.Contains(errOut, "--vcenter-user") {
		t.Errorf("wrong password: exit %d, %s", code, errOut)
	}
	if err := os.WriteFile(pwFile, []byte(v.pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code = v.run(t, v.args("--vcenter-thumbprint", strings.ToLower(v.thumbprint), "--vcenter-password-file", pwFile)...); code != 0 {
		t.Errorf("password file and a lower-case pin: exit %d, %s", code, errOut)
	}
}

// TestInventoryUsage: what the command line gets wrong exits 2 and says
// what to give instead.
func TestInventoryUsage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"inventory"}, "--host (an ESXi host over SSH) or --vcenter"},
		{[]string{"inventory", "--host", "10.0.0.21", "--vcenter", "vc"}, "not both"},
		{[]string{"inventory", "--vcenter", "vc"}, "--vcenter-user"},
		{[]string{"inventory", "--vcenter", "vc", "--vcenter-user", "u", "--vcenter-thumbprint", "SHA256:abc"}, "--vcenter-thumbprint as the vSphere Client shows it"},
		{[]string{"inventory", "--vcenter", "vc", "--vcenter-user", "u", "--vcenter-thumbprint", strings.Repeat("AB", 32), "--vcenter-ca", "ca.pem"}, "not both"},
		{[]string{"inventory", "--vcenter", "http://vc/sdk", "--vcenter-user", "u"}, "https://HOST/sdk"},
		{[]string{"inventory", "--vcenter", "vc", "--vcenter-user", "u", "--vcenter-ca", "/nonexistent.pem"}, "--vcenter-ca takes a PEM file"},
	} {
		out, code := esx(t, "", c.args...)
		if code != 2 || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, out, c.want)
		}
	}
}
