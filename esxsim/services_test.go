package esxsim

import (
	"bufio"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/esxsink/esxsink/internal/peer"
)

func hostScenario(t *testing.T, yml string) *Scenario {
	t.Helper()
	sc, err := ParseScenario([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// refused reports whether OpenSSH could not connect at all (exit 255,
// "Connection refused"), as against a login that failed.
func refused(r result) bool {
	return r.code == 255 && strings.Contains(r.stderr, "Connection refused")
}

// TestSSHServiceStartStop: a host whose scenario has SSH stopped refuses
// connections on its port; StartSSH opens that very port to a real ssh
// client, StopSSH closes it again while a session already open runs to
// its end, as on ESXi. Every change is in the host's footprint.
func TestSSHServiceStartStop(t *testing.T) {
	th := startHost(t, hostScenario(t, "host: {hostname: esxoff, ssh: stopped}\n"), nil)
	if st := th.SSH(); st.Running || st.Policy != PolicyOff {
		t.Fatalf("service at start: %+v (want stopped, policy off)", st)
	}
	if r := th.ssh("publickey", "true", nil); !refused(r) {
		t.Fatalf("SSH stopped, yet: exit %d %s", r.code, r.stderr)
	}
	if err := th.StartSSH("vpxuser"); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "hostname over SSH once started", th.mustSSH("hostname"), "esxoff\n")

	// A session opened before the stop goes on.
	cmd := exec.Command(peer.Require(t, "ssh"), append(th.sshArgs("publickey"), "echo started; read line; echo still here")...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	if l, err := out.ReadString('\n'); err != nil || l != "started\n" {
		t.Fatalf("session: %q %v", l, err)
	}
	if err := th.StopSSH("vpxuser"); err != nil {
		t.Fatal(err)
	}
	if r := th.ssh("publickey", "true", nil); !refused(r) {
		t.Fatalf("SSH stopped again, yet: exit %d %s", r.code, r.stderr)
	}
	stdin.Write([]byte("go on\n"))
	stdin.Close()
	if l, err := out.ReadString('\n'); err != nil || l != "still here\n" {
		t.Fatalf("the open session after the stop: %q %v", l, err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := th.SetSSHPolicy("vpxuser", PolicyOn); err != nil || th.SSH().Policy != PolicyOn {
		t.Fatalf("policy: %+v %v", th.SSH(), err)
	}
	if err := th.SetSSHPolicy("vpxuser", "sometimes"); err == nil {
		t.Fatal("policy sometimes accepted")
	}
	var api []string
	for _, c := range th.Footprint() {
		if c.Kind == "api" {
			api = append(api, c.User+" "+c.Line)
		}
	}
	mustEqual(t, "service changes in the footprint", strings.Join(api, "; "),
		"vpxuser vim.host.ServiceSystem.start TSM-SSH; vpxuser vim.host.ServiceSystem.stop TSM-SSH; vpxuser vim.host.ServiceSystem.updatePolicy on TSM-SSH")
}

// TestLockdownRefusesSSHLogin: in lockdown mode a host refuses root's SSH
// login (root is no exception user) though the service runs; leaving
// lockdown lets root in; an exception user gets in while locked down.
func TestLockdownRefusesSSHLogin(t *testing.T) {
	th := startHost(t, hostScenario(t, "host: {hostname: esxlock, password: \"Lock-1!\", lockdown: normal}\n"), nil)
	for _, auth := range []string{"publickey", "password"} {
		if r := th.ssh(auth, "true", nil); r.code == 0 || refused(r) {
			t.Fatalf("%s login in lockdown: exit %d %s", auth, r.code, r.stderr)
		}
	}
	if err := th.SetLockdown("vpxuser", LockdownDisabled); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "login after lockdown ends", th.mustSSH("hostname"), "esxlock\n")

	ex := startHost(t, hostScenario(t, "host: {hostname: esxex, lockdown: strict, lockdown_exceptions: [root]}\n"), nil)
	mustEqual(t, "exception user in strict lockdown", ex.mustSSH("hostname"), "esxex\n")
}

// TestAdvancedSettings: a scenario's advanced settings are what esxcli
// lists and what the API reports, and UserVars.ESXiShellTimeOut stops a
// started SSH service after that many seconds, as ESXi does.
func TestAdvancedSettings(t *testing.T) {
	th := startHost(t, hostScenario(t, `host:
  hostname: esxadv
  advanced: {UserVars.ESXiShellTimeOut: 900, /Syslog/global/logHost: "udp://192.0.2.10:514", VMkernel.Boot.execInstalledOnly: "true"}
`), nil)
	out := th.mustSSH("esxcli system settings advanced list -o /UserVars/ESXiShellTimeOut")
	if !strings.Contains(out, "Int Value: 900\n") {
		t.Fatalf("esxcli advanced list:\n%s", out)
	}
	if out := th.mustSSH("esxcli system syslog config get"); !strings.Contains(out, "Remote Host: udp://192.0.2.10:514") {
		t.Fatalf("syslog config:\n%s", out)
	}
	if out := th.mustSSH("esxcli system settings kernel list -o execInstalledOnly"); !strings.Contains(out, "TRUE") {
		t.Fatalf("kernel list:\n%s", out)
	}
	got := map[string]any{}
	for _, s := range th.AdvancedSettings() {
		got[s.Key] = s.Value
	}
	if got["UserVars.ESXiShellTimeOut"] != int64(900) || got["Syslog.global.logHost"] != "udp://192.0.2.10:514" || got["VMkernel.Boot.execInstalledOnly"] != true {
		t.Fatalf("AdvancedSettings: %v", got)
	}
	// The timeout counts from the start of the service: wait for it to
	// stop (a second), then the port refuses.
	th = startHost(t, hostScenario(t, "host: {hostname: esxtmo, ssh: stopped, advanced: {UserVars.ESXiShellTimeOut: 1}}\n"), nil)
	if err := th.StartSSH("vpxuser"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for th.SSH().Running {
		if time.Now().After(deadline) {
			t.Fatal("ESXiShellTimeOut=1 did not stop SSH")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := th.ssh("publickey", "true", nil); !refused(r) {
		t.Fatalf("after ESXiShellTimeOut: exit %d %s", r.code, r.stderr)
	}
}
