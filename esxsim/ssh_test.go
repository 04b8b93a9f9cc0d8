package esxsim

import (
	"crypto/md5"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/esxsink/esxsink/internal/peer"
)

// TestOpenSSHPasswordLogins logs in with the real OpenSSH client through
// sshpass, by password and by keyboard-interactive (ESXi's default), and
// checks getallvms against the structure of real output.
func TestOpenSSHPasswordLogins(t *testing.T) {
	th := startHost(t, loadScenario(t, "basic.yaml"), nil)
	for _, auth := range []string{"password", "keyboard-interactive"} {
		r := th.ssh(auth, "vim-cmd vmsvc/getallvms", nil)
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", auth, r.code, r.stderr)
		}
		hdr, rows := parseGetAllVMs(t, r.stdout)
		if len(hdr) != 5 {
			t.Fatalf("%s: no VM has an annotation, yet the header is %q", auth, hdr)
		}
		if len(rows) != 2 || rows[0].id != "1" || rows[0].name != "Ubuntu" || rows[0].file != "[datastore1] Ubuntu/Ubuntu.vmx" ||
			rows[1].name != "Unused server" || rows[1].file != "[datastore1] Unused server/Unused server.vmx" || rows[1].version != "vmx-17" {
			t.Fatalf("%s: rows %+v", auth, rows)
		}
	}
	// A wrong password is refused.
	th.password = "wrong"
	r := th.ssh("password", "true", nil)
	th.password = th.Password()
	if r.code != 5 && r.code != 255 {
		t.Fatalf("wrong password: exit %d (%s)", r.code, r.stderr)
	}
	if th.State().MaxSessions < 1 || len(th.Footprint()) != 2 {
		t.Fatalf("footprint after two logins: %+v", th.Footprint())
	}
}

// TestOpenSSHKeyKnownHosts logs in with a key while checking the host key
// against a known_hosts entry made from HostKey(); a host started again
// from the same host-key file presents the same key.
func TestOpenSSHKeyKnownHosts(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "ssh_host_ecdsa_key")
	th := startHost(t, loadScenario(t, "basic.yaml"), func(c *Config) { c.HostKeyFile = keyFile })
	kh := filepath.Join(t.TempDir(), "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%s %s", th.port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(th.HostKey()))))
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	strict := []string{"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + kh}
	r := th.ssh("publickey", "esxcli --formatter=csv vm process list", nil, strict...)
	if r.code != 0 {
		t.Fatalf("key login with a checked host key: exit %d: %s", r.code, r.stderr)
	}
	rows := parseCSV(t, r.stdout)
	if len(rows) != 1 || rows[0]["DisplayName"] != "Ubuntu" || !strings.HasSuffix(rows[0]["ConfigFile"], "/Ubuntu/Ubuntu.vmx") ||
		rows[0]["ProcessID"] != "0" || !regexp.MustCompile(`^([0-9a-f]{2} ){7}[0-9a-f]{2}-([0-9a-f]{2} ){7}[0-9a-f]{2}$`).MatchString(rows[0]["UUID"]) {
		t.Fatalf("csv rows %v", rows)
	}
	// The Config File path exists on the host.
	if out := th.mustSSH("ls " + shQuote(rows[0]["ConfigFile"])); strings.TrimSpace(out) != rows[0]["ConfigFile"] {
		t.Fatalf("ls of the config file: %q", out)
	}
	fp := th.Fingerprint()
	th.Close()
	th2 := startHost(t, loadScenario(t, "basic.yaml"), func(c *Config) { c.HostKeyFile = keyFile })
	if th2.Fingerprint() != fp {
		t.Fatalf("host key changed across restarts: %s then %s", fp, th2.Fingerprint())
	}
	// A client that knows another key for this address refuses to log in.
	bad := strings.Replace(line, th.port, th2.port, 1)
	bad = bad[:len(bad)-8] + "AAAAAAAA"
	os.WriteFile(kh, []byte(bad+"\n"), 0o600)
	if r := th2.ssh("publickey", "true", nil, strict...); r.code == 0 || !strings.Contains(r.stderr, "Host key verification failed") {
		t.Fatalf("ssh accepted a host key that does not match known_hosts: %+v\n%s", r, bad)
	}
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestOpenSSHFindAndHashPipeline runs find and a quoted dd | tee | md5sum
// pipeline: the host's md5sum must equal the md5 of the bytes dd sends
// through SSH to this side, and of the copy tee wrote.
func TestOpenSSHFindAndHashPipeline(t *testing.T) {
	th := startHost(t, loadScenario(t, "basic.yaml"), nil)
	found := lines(th.mustSSH("find /vmfs/volumes -name '*.vmx'"))
	uuid := th.sc.Datastores[0].UUID
	want := []string{"/vmfs/volumes/" + uuid + "/Ubuntu/Ubuntu.vmx", "/vmfs/volumes/" + uuid + "/Unused server/Unused server.vmx"}
	mustEqual(t, "find", found, want)

	src := "/vmfs/volumes/datastore1/Unused server/Unused server-flat.vmdk"
	r := th.ssh("publickey", fmt.Sprintf("dd if=%s bs=1M count=16 skip=3 | tee /tmp/part.bin | md5sum", shQuote(src)), nil)
	if r.code != 0 {
		t.Fatalf("pipeline: %d %s", r.code, r.stderr)
	}
	mustEqual(t, "dd summary", r.stderr, fixture(t, "dd-summary.txt"))
	hostSum, name, _ := strings.Cut(strings.TrimSpace(r.stdout), "  ")
	mustEqual(t, "md5sum name", name, "-")
	raw := th.ssh("publickey", fmt.Sprintf("dd if=%s bs=1M count=16 skip=3 2>/dev/null", shQuote(src)), nil)
	if len(raw.stdout) != 16<<20 {
		t.Fatalf("dd to stdout sent %d bytes", len(raw.stdout))
	}
	local := fmt.Sprintf("%x", md5.Sum([]byte(raw.stdout)))
	mustEqual(t, "host md5 vs md5 of the bytes received", hostSum, local)
	teeSum := th.mustSSH("md5sum /tmp/part.bin")
	mustEqual(t, "md5sum of tee's copy", teeSum, local+"  /tmp/part.bin\n")
	// skip= is honoured: a different offset gives different data.
	other := th.mustSSH(fmt.Sprintf("dd if=%s bs=1M count=16 skip=4 2>/dev/null | md5sum", shQuote(src)))
	if strings.HasPrefix(other, local) {
		t.Fatal("skip=4 and skip=3 read the same bytes")
	}
}

// TestShellAgainstBusybox runs the same command lines in the simulator's
// shell (over SSH) and in the real busybox ash, and compares output and
// exit status: quoting, pipes, redirections, &&, ;, $? and pipefail.
func TestShellAgainstBusybox(t *testing.T) {
	bb := peer.Require(t, "busybox")
	th := startHost(t, loadScenario(t, "basic.yaml"), nil)
	dir := t.TempDir()
	// Only busybox's own applets on PATH, as on ESXi.
	bin := t.TempDir()
	for _, a := range []string{"cat", "wc", "head", "tee", "printf", "echo", "test", "true", "false"} {
		if err := os.Symlink(bb, filepath.Join(bin, a)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{
		`echo "a  b" 'c$d' \$e; echo $?`,
		`x='it'"'"'s'; echo "$x"`,
		`false | true; echo $?`,
		`set -o pipefail; false | true; echo $?`,
		`true && echo and; false || echo or; false && echo never; echo $?`,
		`for i in 1 2 3; do echo $i; done | wc -l`,
		`echo one > F/f; echo two >> F/f; cat < F/f; cat F/f | head -n 1`,
		`nosuchcommand; echo status=$?`,
		`test -d F && echo dir; [ -f F/nothere ] || echo nofile`,
		`echo abc | tee F/t | wc -c; cat F/t`,
		`printf '%s-%d\n' x 5; (exit 3); echo $?`,
		`cat F/missing; echo $?`,
	} {
		local := strings.ReplaceAll(c, "F/", dir+"/")
		remote := strings.ReplaceAll(c, "F/", "/tmp/")
		remote = strings.ReplaceAll(remote, "test -d F", "test -d /tmp")
		local = strings.ReplaceAll(local, "test -d F", "test -d "+dir)
		cmd := exec.Command(bb, "sh", "-c", local)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + bin}
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		r := th.ssh("publickey", remote, nil)
		if r.stdout != out.String() || r.code != code {
			t.Errorf("%s\nbusybox: %q (exit %d)\nesxsim:  %q (exit %d) stderr %q", c, out.String(), code, r.stdout, r.code, r.stderr)
		}
		wantErr := strings.ReplaceAll(errb.String(), dir+"/", "/tmp/")
		if wantErr != r.stderr {
			t.Errorf("%s: stderr\nbusybox: %q\nesxsim:  %q", c, wantErr, r.stderr)
		}
	}
}

// TestOpenSSHConcurrentSessions runs several sessions at once on one host
// and checks their outputs do not mix.
func TestOpenSSHConcurrentSessions(t *testing.T) {
	th := startHost(t, loadScenario(t, "basic.yaml"), nil)
	const n = 4
	var wg sync.WaitGroup
	outs := make([]result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i] = th.ssh("publickey", fmt.Sprintf("sleep 2; echo session-%d; vim-cmd vmsvc/power.getstate %d", i, 1+i%2), nil)
		}()
	}
	wg.Wait()
	for i, r := range outs {
		state := []string{"Powered on", "Powered off"}[i%2]
		if r.code != 0 || r.stdout != fmt.Sprintf("session-%d\nRetrieved runtime info\n%s\n", i, state) {
			t.Fatalf("session %d: %+v", i, r)
		}
	}
	if st := th.State(); st.MaxSessions < 2 {
		t.Fatalf("sessions never overlapped: max %d", st.MaxSessions)
	}
	// Unknown commands answer like ash.
	r := th.ssh("publickey", "esxtop-not-here -b", nil)
	if r.code != 127 || r.stderr != "sh: esxtop-not-here: not found\n" {
		t.Fatalf("unknown command: %+v", r)
	}
	// The footprint has every command line with its status, and shell.log
	// shows them as ESXi logs them.
	fp := th.Footprint()
	if len(fp) != n+1 || fp[n].Exit != 127 || fp[n].Line != "esxtop-not-here -b" || fp[n].Kind != "exec" {
		t.Fatalf("footprint %+v", fp)
	}
	log := th.mustSSH("cat /var/log/shell.log")
	if !strings.Contains(log, "shell[") || !strings.Contains(log, "[root]: esxtop-not-here -b") || !strings.Contains(log, "[root]: sleep 2; echo session-3") {
		t.Fatalf("shell.log:\n%s", log)
	}
}

// TestOpenSSHInteractiveShell drives an interactive login through a
// terminal: the ESXi banner, the prompt, cd and commands.
func TestOpenSSHInteractiveShell(t *testing.T) {
	th := startHost(t, loadScenario(t, "basic.yaml"), nil)
	// A terminal sends CR for Enter.
	script := "cd /vmfs/volumes/datastore1\rpwd\rvim-cmd vmsvc/power.getstate 2\recho 'multi\rline'\rexit 4\r"
	r := th.ssh("keyboard-interactive", "", strings.NewReader(script), "-tt")
	out := strings.ReplaceAll(r.stdout, "\r\n", "\n")
	for _, want := range []string{
		"All commands run on the ESXi shell are logged and may be included in",
		"[root@esx-train01:~] cd /vmfs/volumes/datastore1\n",
		"[root@esx-train01:/vmfs/volumes/datastore1] pwd\n/vmfs/volumes/datastore1\n",
		"Retrieved runtime info\nPowered off\n",
		"> line'\nmulti\nline\n",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("interactive session lacks %q:\n%s", want, out)
		}
	}
	if r.code != 4 {
		t.Fatalf("exit 4 gave status %d", r.code)
	}
	fp := th.Footprint()
	if len(fp) != 5 || fp[0].Kind != "shell" || fp[3].Line != "echo 'multi\nline'" {
		t.Fatalf("footprint %+v", fp)
	}
}
