package memlog

import (
	"encoding/json"
	"sync"
	"testing"
)

// TestRecordsByType appends from several goroutines and reads back by type.
func TestRecordsByType(t *testing.T) {
	var l Log
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			typ := "a"
			if i%5 == 0 {
				typ = "b"
			}
			if _, err := l.Append(typ, map[string]int{"i": i}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if l.Count("a") != 40 || l.Count("b") != 10 || l.Count("c") != 0 {
		t.Fatalf("counts a=%d b=%d c=%d, want 40 10 0", l.Count("a"), l.Count("b"), l.Count("c"))
	}
	var d map[string]int
	if err := json.Unmarshal(l.Records("b")[0].Data, &d); err != nil || d["i"]%5 != 0 {
		t.Fatalf("first b record %s: %v", l.Records("b")[0].Data, err)
	}
	if _, err := l.Append("bad", func() {}); err == nil {
		t.Fatal("a value JSON cannot encode was accepted")
	}
}
