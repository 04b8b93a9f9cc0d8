package esxi

import (
	"strings"
	"testing"
	"time"
)

func TestLeaseCommandsAndParse(t *testing.T) {
	t.Parallel()
	cmd, err := CmdWriteLease(Lease{RunID: "0badc0de", Workstation: "lab-ws 'A'", Case: "2026-017", PID: 42})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(cmd, "> '/tmp/esxsink-0badc0de.lease'") || !strings.Contains(cmd, `'workstation lab-ws '\''A'\'''`) {
		t.Errorf("command %s", cmd)
	}
	for _, bad := range []Lease{{RunID: "0BADC0DE"}, {RunID: "0badc0de", Case: "a\nheartbeat 1"}} {
		if _, err := CmdWriteLease(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	l, err := ParseLease("esxsink lease 1\nrun 0badc0de\nworkstation lab-ws 'A'\ncase 2026-017\npid 42\nheartbeat 1700000000\n")
	if err != nil || l.RunID != "0badc0de" || l.Workstation != "lab-ws 'A'" || l.Case != "2026-017" || l.PID != 42 || !l.Heartbeat.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("%+v %v", l, err)
	}
	// Half written (the heartbeat rewrite was read midway), or not ours.
	for _, text := range []string{"esxsink lease 1\nrun 0badc0de\nworkst", "", "not a lease\nrun 0badc0de\nheartbeat 1\n"} {
		if _, err := ParseLease(text); err == nil {
			t.Errorf("%q parsed", text)
		}
	}
}

func TestLeaseHeartbeatParse(t *testing.T) {
	t.Parallel()
	h, err := ParseLeaseHeartbeat("lease missing\nstop present\nlease written\n")
	if err != nil || h.WasThere || !h.Stop || !h.Written {
		t.Errorf("%+v %v", h, err)
	}
	if _, err := ParseLeaseHeartbeat("sh: date: not found\n"); err == nil {
		t.Error("an error parsed")
	}
}
