package orchestrator

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/internal/peer"
)

// testSSHD is a real OpenSSH sshd on a loopback port with its own host
// key, config and authorized_keys, started for one test.
type testSSHD struct {
	addr     string
	dir      string
	hostPub  string // host public key line
	userKey  string // private key file authorized for the current user
	userName string
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if peer.Required() {
			t.Fatal("sshd tests need root (CI runs as root)")
		}
		t.Skip("sshd tests need root")
	}
}

func keygen(t *testing.T, path string) {
	t.Helper()
	if out, err := exec.Command(peer.Require(t, "ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSSHD runs sshd with authMethods ("publickey", "password",
// "keyboard-interactive").
func startSSHD(t *testing.T, authMethods string) *testSSHD {
	t.Helper()
	requireRoot(t)
	sshd := peer.Require(t, "sshd")
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	hostKey := filepath.Join(dir, "host_ed25519")
	keygen(t, hostKey)
	userKey := filepath.Join(dir, "user_ed25519")
	keygen(t, userKey)
	pub, _ := os.ReadFile(userKey + ".pub")
	os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o644)
	os.MkdirAll("/run/sshd", 0o755) // privilege separation directory
	port := freePort(t)
	u, _ := user.Current()
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s/sshd.pid
AuthorizedKeysFile %s/authorized_keys
StrictModes no
PermitRootLogin yes
UsePAM yes
PasswordAuthentication yes
KbdInteractiveAuthentication yes
AuthenticationMethods %s
LogLevel ERROR
`, port, hostKey, dir, dir, authMethods)
	confPath := filepath.Join(dir, "sshd_config")
	os.WriteFile(confPath, []byte(conf), 0o600)
	cmd := exec.Command(sshd, "-D", "-e", "-f", confPath)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Log("sshd:", sc.Text())
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatal("sshd did not start")
		}
		time.Sleep(30 * time.Millisecond)
	}
	hostPub, _ := os.ReadFile(hostKey + ".pub")
	return &testSSHD{addr: addr, dir: dir, hostPub: strings.TrimSpace(string(hostPub)), userKey: userKey, userName: u.Username}
}

// knownHosts writes a known_hosts file with the given key line for the server.
func (s *testSSHD) knownHosts(t *testing.T, keyLine string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.addr)
	p := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(p, []byte(fmt.Sprintf("[%s]:%s %s\n", host, port, keyLine)), 0o644)
	return p
}

func (s *testSSHD) trusted(t *testing.T) SSHOptions {
	t.Helper()
	cb, err := KnownHosts(s.knownHosts(t, s.hostPub))
	if err != nil {
		t.Fatal(err)
	}
	return SSHOptions{Addr: s.addr, User: s.userName, HostKey: cb, Keepalive: -1}
}

// testUser creates a local account with a password for the password and
// keyboard-interactive tests (CI machines are disposable; elsewhere only
// when the account already exists).
func testUser(t *testing.T) (name, password string) {
	t.Helper()
	name, password = "esxsinktest", "S3cret 'pass' $(x)"
	if _, err := user.Lookup(name); err != nil {
		if !peer.Required() {
			t.Skip("password tests create a local account; they run in CI (ESXSINK_REQUIRE_PEERS=1)")
		}
		if out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v %s", err, out)
		}
	}
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(name + ":" + password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v %s", err, out)
	}
	return name, password
}

func TestSSHKeyAuthAndCommands(t *testing.T) {
	s := startSSHD(t, "publickey")
	o := s.trusted(t)
	o.KeyFiles = []string{s.userKey}
	c, err := DialSSH(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !strings.HasPrefix(c.HostKeyFingerprint(), "SHA256:") {
		t.Fatalf("fingerprint %q", c.HostKeyFingerprint())
	}
	caseDir := t.TempDir()
	log := &recLog{}
	r, err := NewRunner(c, log, filepath.Join(caseDir, "host-commands"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), "printf 'out'; printf 'err' >&2; exit 3")
	if err != nil || res.ExitStatus != 3 || string(res.Stdout) != "out" || string(res.Stderr) != "err" {
		t.Fatalf("run: %+v %v", res, err)
	}
	if len(log.recs) != 1 || log.recs[0].ExitStatus != 3 || log.recs[0].StdoutSHA256 != sha256Hex([]byte("out")) {
		t.Fatalf("custody record: %+v", log.recs)
	}
	kept, _ := os.ReadFile(filepath.Join(caseDir, log.recs[0].StdoutFile))
	if string(kept) != "out" {
		t.Fatalf("kept stdout %q", kept)
	}
	// Several sessions at once over one connection.
	errs := make(chan error, 4)
	for i := range 4 {
		go func() {
			res, err := r.Run(context.Background(), fmt.Sprintf("sleep 0.2; echo %d", i))
			if err == nil && strings.TrimSpace(string(res.Stdout)) != fmt.Sprint(i) {
				err = fmt.Errorf("session %d got %q", i, res.Stdout)
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// A command timeout stops the command and says so.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := r.Run(ctx, "sleep 30"); !errors.Is(err, ErrCommandTimeout) {
		t.Fatalf("timeout: %v", err)
	}
}

func TestSSHAgentAuth(t *testing.T) {
	s := startSSHD(t, "publickey")
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command(peer.Require(t, "ssh-agent"), "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	add := exec.Command(peer.Require(t, "ssh-add"), s.userKey)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v %s", err, out)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	o := s.trusted(t)
	o.Agent = true
	c, err := DialSSH(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestSSHHostKeyPolicy(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, "publickey")
	base := SSHOptions{Addr: s.addr, User: s.userName, KeyFiles: []string{s.userKey}, Keepalive: -1}

	// Unknown: an empty known_hosts file.
	empty := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(empty, nil, 0o644)
	o := base
	o.HostKey, _ = KnownHosts(empty)
	_, err := DialSSH(context.Background(), o)
	var uk *UnknownHostKeyError
	// The examiner decides on the fingerprint the message shows, so the
	// message must carry it.
	if !errors.As(err, &uk) || !strings.HasPrefix(uk.Fingerprint, "SHA256:") || !strings.Contains(err.Error(), uk.Fingerprint) {
		t.Fatalf("unknown host key: %v", err)
	}
	fp := uk.Fingerprint

	// Changed: known_hosts holds another key for this host.
	other := filepath.Join(t.TempDir(), "other")
	keygen(t, other)
	otherPub, _ := os.ReadFile(other + ".pub")
	o.HostKey, _ = KnownHosts(s.knownHosts(t, strings.TrimSpace(string(otherPub))))
	_, err = DialSSH(context.Background(), o)
	var ck *ChangedHostKeyError
	// The warning's wording, OpenSSH's, is what an examiner recognises.
	if !errors.As(err, &ck) || !strings.Contains(err.Error(), "HAS CHANGED") {
		t.Fatalf("changed host key: %v", err)
	}

	// Pinned: the right fingerprint logs in, a wrong one is refused.
	o.HostKey, _ = PinnedHostKey(fp)
	c, err := DialSSH(context.Background(), o)
	if err != nil {
		t.Fatalf("pinned right key: %v", err)
	}
	c.Close()
	o.HostKey, _ = PinnedHostKey("SHA256:" + strings.Repeat("A", 43))
	if _, err := DialSSH(context.Background(), o); !errors.As(err, &ck) {
		t.Fatalf("pinned wrong key: %v", err)
	}
	if _, err := PinnedHostKey("MD5:aa:bb"); err == nil {
		t.Fatal("MD5 fingerprint accepted")
	}
}

func TestSSHPasswordAndKeyboardInteractive(t *testing.T) {
	name, pw := testUser(t)
	for _, method := range []string{"password", "keyboard-interactive"} {
		t.Run(method, func(t *testing.T) {
			s := startSSHD(t, method)
			o := s.trusted(t)
			o.User = name
			var prompts []string
			o.Password = func(_ context.Context, user, host, prompt string) (string, error) {
				prompts = append(prompts, prompt)
				return pw, nil
			}
			c, err := DialSSH(context.Background(), o)
			if err != nil {
				t.Fatalf("%s login: %v", method, err)
			}
			res, err := (&Runner{conn: c}).Run(context.Background(), "id -un")
			c.Close()
			if err != nil || strings.TrimSpace(string(res.Stdout)) != name {
				t.Fatalf("id -un: %q %v", res.Stdout, err)
			}
			if len(prompts) != 1 {
				t.Fatalf("asked for the password %d times", len(prompts))
			}
			o.Password = func(context.Context, string, string, string) (string, error) { return "wrong", nil }
			// Refused, named as such, and only what was offered is named:
			// the advice in the message is the product, so it is text.
			if _, err := DialSSH(context.Background(), o); !errors.Is(err, ErrLoginRefused) || !strings.Contains(err.Error(), "check the user and the password") ||
				(len(o.KeyFiles) == 0 && strings.Contains(err.Error(), "key file")) {
				t.Fatalf("wrong password: %v", err)
			}
		})
	}
}

// recLog records command.run records for tests.
type recLog struct {
	mu   sync.Mutex
	recs []custody.CommandRun
}

func (l *recLog) Append(typ string, data any) (custody.Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if rec, ok := data.(custody.CommandRun); ok && typ == custody.TypeCommandRun {
		l.recs = append(l.recs, rec)
	}
	return custody.Record{}, nil
}
