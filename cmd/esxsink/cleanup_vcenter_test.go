package main

import (
	"encoding/json"
	"testing"

	"github.com/esxsink/esxsink/custody"
)

// TestSSHLeftovers: per run and host, the state before the first change
// is what a cleanup puts back, when the last change left it otherwise.
func TestSSHLeftovers(t *testing.T) {
	off := custody.ServiceState{Running: false, Policy: "off"}
	on := custody.ServiceState{Running: true, Policy: "off"}
	change := func(run, host string, before custody.ServiceState, after *custody.ServiceState) custody.Record {
		b, _ := json.Marshal(custody.ServiceChange{RunID: run, Host: host, Before: before, After: after, Action: "start"})
		return custody.Record{Type: custody.TypeHostServiceChanged, Data: b}
	}
	recs := []custody.Record{
		change("r1", "esx01", off, &on), change("r1", "esx01", on, &off), // restored
		change("r1", "esx02", off, &on), // killed before the restore
		change("r2", "esx03", off, nil), // the start's outcome is unknown
		{Type: custody.TypeNote, Data: []byte(`{"text":"x"}`)},
	}
	got, err := sshLeftovers(recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Host != "esx02" || got[0].Want != off || *got[0].Left != on ||
		got[1].Host != "esx03" || got[1].RunID != "r2" || got[1].Left != nil {
		t.Errorf("leftovers %+v", got)
	}
}
