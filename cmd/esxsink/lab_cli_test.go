package main

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/esxsink/esxsink/internal/peer"
)

// TestLabCommand starts `esxsink-lab` as a trainer would, reads the
// connection details it prints, and logs in with the real OpenSSH client
// checking the printed host-key fingerprint.
func TestLabCommand(t *testing.T) {
	sshpass := peer.Require(t, "sshpass")
	ssh := peer.Require(t, "ssh")
	keyscan := peer.Require(t, "ssh-keyscan")
	port := freePort(t)
	cmd := exec.Command(labBin, "--scenario", "../../examples/lab/basic.yaml", "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	b := readLabBanner(t, stdout)
	text, pw, fp := b.text, b.hosts[0].password, b.hosts[0].hostKey
	if !strings.Contains(text, fmt.Sprint(port)) {
		t.Fatalf("lab banner lacks the port:\n%s", text)
	}
	// The fingerprint printed is the one the server presents.
	ks, err := exec.Command(keyscan, "-p", fmt.Sprint(port), "127.0.0.1").Output()
	if err != nil {
		t.Fatalf("ssh-keyscan: %v", err)
	}
	fpr := exec.Command("ssh-keygen", "-lf", "-")
	fpr.Stdin = strings.NewReader(string(ks))
	prints, _ := fpr.Output()
	if !strings.Contains(string(prints), fp) {
		t.Fatalf("printed fingerprint %s is not the server's:\n%s", fp, prints)
	}
	out, err := exec.Command(sshpass, "-p", pw, ssh, "-p", fmt.Sprint(port), "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "root@127.0.0.1", "vim-cmd vmsvc/getallvms").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Ubuntu") || !strings.Contains(string(out), "Vmid") {
		t.Fatalf("ssh into the lab: %v\n%s", err, out)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("lab did not stop on SIGINT")
	}
}

// TestLabVCenter starts the fleet scenario examples/lab/vcenter.yaml as a
// trainer would and checks what the lab prints against what it serves:
// the vCenter's URL and the SHA-256 thumbprint of the certificate it
// presents, and for each host its address, port and host key, SSH
// answering only where the scenario has it running. Started again with
// the same key folder and certificate file, the lab keeps its identity.
func TestLabVCenter(t *testing.T) {
	sshpass := peer.Require(t, "sshpass")
	sshBin := peer.Require(t, "ssh")
	keyscan := peer.Require(t, "ssh-keyscan")
	dir := t.TempDir()
	port := freePort(t)
	start := func() (banner string, stop func()) {
		cmd := exec.Command(labBin, "--scenario", "../../examples/lab/vcenter.yaml", "--listen", fmt.Sprintf("127.0.0.1:%d", port),
			"--host-key-dir", filepath.Join(dir, "keys"), "--vcenter-cert", filepath.Join(dir, "vcenter.pem"))
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		banner = readLabBanner(t, stdout).text
		return banner, func() {
			cmd.Process.Signal(syscall.SIGINT)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatal("lab did not stop on SIGINT")
			}
		}
	}
	banner, stop := start()
	field := func(text, name string) string {
		m := regexp.MustCompile(`(?m)^\s*` + name + `:\s+(\S+)`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("no %s: line in\n%s", name, text)
		}
		return m[1]
	}
	u, err := url.Parse(field(banner, "vcenter"))
	if err != nil || u.Scheme != "https" || u.Path != "/sdk" {
		t.Fatalf("vcenter URL %v: %v", u, err)
	}
	thumb := field(banner, "thumbprint")
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].Raw)
	conn.Close()
	if want := strings.ToUpper(strings.Join(regexp.MustCompile(`..`).FindAllString(hex.EncodeToString(sum[:]), -1), ":")); thumb != want {
		t.Fatalf("printed thumbprint %s, the server presents %s", thumb, want)
	}
	hosts := map[string]string{}
	for _, block := range strings.Split(banner, "simulated ESXi host ")[1:] {
		hosts[strings.Fields(block)[0]] = block
	}
	if len(hosts) != 3 {
		t.Fatalf("%d hosts in the banner:\n%s", len(hosts), banner)
	}
	for name, addr := range map[string]string{"esx01": "127.0.0.11", "esx02": "127.0.0.12", "esx03": "127.0.0.13"} {
		b := hosts[name]
		if field(b, "host") != addr || field(b, "port") != fmt.Sprint(port) {
			t.Fatalf("%s: want %s port %d:\n%s", name, addr, port, b)
		}
	}
	login := func(name string) (string, error) {
		b := hosts[name]
		out, err := exec.Command(sshpass, "-p", field(b, "password"), sshBin, "-p", fmt.Sprint(port), "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "root@"+field(b, "host"), "hostname").CombinedOutput()
		return string(out), err
	}
	if out, err := login("esx02"); err != nil || strings.TrimSpace(out) != "esx02" {
		t.Fatalf("esx02's SSH runs: %v %s", err, out)
	}
	for _, name := range []string{"esx01", "esx03"} {
		if out, err := login(name); err == nil || !strings.Contains(out, "Connection refused") {
			t.Fatalf("%s's SSH is stopped, yet: %v %s", name, err, out)
		}
	}
	ks, err := exec.Command(keyscan, "-p", fmt.Sprint(port), "127.0.0.12").Output()
	if err != nil {
		t.Fatalf("ssh-keyscan esx02: %v", err)
	}
	kg := exec.Command("ssh-keygen", "-lf", "-")
	kg.Stdin = strings.NewReader(string(ks))
	if prints, _ := kg.Output(); !strings.Contains(string(prints), field(hosts["esx02"], "host key")) {
		t.Fatalf("esx02's printed host key is not the one it presents:\n%s", prints)
	}
	stop()

	again, stop := start()
	defer stop()
	if field(again, "thumbprint") != thumb || !strings.Contains(again, field(hosts["esx02"], "host key")) {
		t.Fatalf("restarted with the same certificate and keys, the lab changed identity:\n%s\nwas\n%s", again, banner)
	}
}
