package esxi

import (
	"errors"
	"os/exec"
	"testing"

	"github.com/esxsink/esxsink/internal/peer"
)

func TestProbeToolsUnderBusybox(t *testing.T) {
	t.Parallel()
	bb := peer.Require(t, "busybox")
	cmd, err := CmdProbeTools("md5sum", "sha256sum", "esxcfg-nas", "mkfifo")
	if err != nil {
		t.Fatal(err)
	}
	// busybox sh with only busybox's applets on PATH: md5sum and mkfifo
	// are there, esxcfg-nas is not.
	dir := t.TempDir()
	for _, a := range []string{"md5sum", "sha256sum", "mkfifo"} {
		if err := exec.Command("ln", "-s", bb, dir+"/"+a).Run(); err != nil {
			t.Fatal(err)
		}
	}
	c := exec.Command(bb, "sh", "-c", cmd)
	c.Env = []string{"PATH=" + dir}
	out, err := c.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	have, err := ParseProbeTools(string(out))
	if err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	want := map[string]bool{"md5sum": true, "sha256sum": true, "mkfifo": true, "esxcfg-nas": false, "pipefail": true}
	for k, v := range want {
		if have[k] != v {
			t.Errorf("%s: have=%v, want %v (output %q)", k, have[k], v, out)
		}
	}
}

func TestProbeToolsRejects(t *testing.T) {
	t.Parallel()
	if _, err := CmdProbeTools("md5sum; reboot"); err == nil {
		t.Error("a tool name with a command in it was accepted")
	}
	if _, err := ParseProbeTools("have md5sum\n"); err == nil {
		t.Error("output without the pipefail line was accepted")
	}
	var pe *ParseError
	if _, err := ParseProbeTools("have md5sum\nsh: oops\nhave pipefail\n"); !errors.As(err, &pe) || pe.Line != 2 {
		t.Errorf("stray line: %v, want a ParseError on line 2", err)
	}
}

func TestWriteTextUnderBusybox(t *testing.T) {
	t.Parallel()
	bb := peer.Require(t, "busybox")
	dir := t.TempDir()
	p := dir + `/it's "a" $(x) check`
	text := `esxsink mount check 'run' $(id) %s`
	cmd, err := CmdWriteText(p, text)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bb, "sh", "-c", cmd).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got, err := exec.Command("cat", p).Output()
	if err != nil || string(got) != text+"\n" {
		t.Fatalf("wrote %q (%v), want %q", got, err, text+"\n")
	}
}
