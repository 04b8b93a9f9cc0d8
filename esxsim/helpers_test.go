package esxsim

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/esxsink/esxsink/internal/peer"
)

// testHost is a simulated host started for one test, with a client key
// that may log in.
type testHost struct {
	*Host
	t       testing.TB
	keyFile string
	port    string
	// password is what the client types (the host's, unless a test
	// changes it).
	password string
}

func loadScenario(t testing.TB, name string) *Scenario {
	t.Helper()
	sc, err := LoadScenario(filepath.Join("..", "examples", "lab", name))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func startHost(t testing.TB, sc *Scenario, mod func(*Config)) *testHost {
	t.Helper()
	sshPub, keyFile := clientKey(t)
	cfg := Config{AuthorizedKeys: []ssh.PublicKey{sshPub}, Heartbeat: 200 * time.Millisecond}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(sc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return asTestHost(t, h, keyFile)
}

// asTestHost wraps a started host for the ssh helpers; keyFile is a
// private key the host accepts.
func asTestHost(t testing.TB, h *Host, keyFile string) *testHost {
	_, port, _ := strings.Cut(h.Addr().String(), ":")
	return &testHost{Host: h, t: t, keyFile: keyFile, port: port, password: h.Password()}
}

// clientKey makes an ed25519 client key: its public half and the file
// holding the private one.
func clientKey(t testing.TB) (ssh.PublicKey, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	return sshPub, keyFile
}

// sshArgs are OpenSSH options for the test host; auth is "password",
// "keyboard-interactive" or "publickey".
func (th *testHost) sshArgs(auth string, extra ...string) []string {
	// OpenSSH keeps the first value given for an option: extra comes first.
	args := append(append([]string{}, extra...), "-F", "/dev/null", "-p", th.port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-o", "PreferredAuthentications="+auth)
	if auth == "publickey" {
		args = append(args, "-i", th.keyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes")
	} else {
		args = append(args, "-o", "PubkeyAuthentication=no")
	}
	return append(args, th.User()+"@127.0.0.1")
}

// result is a finished ssh command.
type result struct {
	stdout, stderr string
	code           int
}

// ssh runs command on the host with the real OpenSSH client.
func (th *testHost) ssh(auth, command string, stdin io.Reader, extra ...string) result {
	th.t.Helper()
	sshBin := peer.Require(th.t, "ssh")
	args := append(th.sshArgs(auth, extra...), command)
	name := sshBin
	if auth != "publickey" {
		name = peer.Require(th.t, "sshpass")
		args = append([]string{"-p", th.password, sshBin}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &errb, stdin
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		th.t.Fatalf("ssh %q: %v", command, err)
	}
	return result{out.String(), errb.String(), code}
}

// mustSSH runs a command that has to succeed.
func (th *testHost) mustSSH(command string) string {
	th.t.Helper()
	r := th.ssh("publickey", command, nil)
	if r.code != 0 {
		th.t.Fatalf("ssh %q: exit %d\nstdout:\n%s\nstderr:\n%s", command, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func mustEqual(t testing.TB, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}
