package main

import (
	"fmt"
	"os/exec"
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
	text, pw, fp := readLabBanner(t, stdout)
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
