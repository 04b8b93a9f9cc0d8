package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/internal/nfsclient"
	"github.com/esxsink/esxsink/internal/peer"
)

// rpcRecord is one record-marked ONC RPC call with AUTH_NONE, built by
// hand as an attacker would.
func rpcRecord(xid, prog, vers, proc uint32, args []byte) []byte {
	var b []byte
	for _, v := range []uint32{xid, 0, 2, prog, vers, proc, 0, 0, 0, 0} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	b = append(b, args...)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))|1<<31), b...)
}

// readArgs are READ3args for fh.
func readArgs(fh []byte, off uint64, count uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(fh)))
	b = append(b, fh...)
	b = append(b, make([]byte, (4-len(fh)%4)%4)...)
	b = binary.BigEndian.AppendUint64(b, off)
	return binary.BigEndian.AppendUint32(b, count)
}

// rssMiB is the resident memory of process pid (Linux).
func rssMiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the sink's memory: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return kb >> 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// attackRSSBound is the most the sink may grow under every attack below,
// whatever the number of attackers: its record budget (32 records of
// about 1 MiB), one READ reply per connection (32), and the garbage
// collector's headroom over that (GOGC=100 lets the heap reach twice
// what is live). Without the limits, 500 connections took 680 MB.
const attackRSSBound = 192

// TestServeUnderAttack sends a running `esxsink serve` what a hostile or
// broken client might: READs far above rtmax, pipelined without reading
// the replies, WRITEs from clients that never read, hundreds of records
// left half sent, and a connection flood from an address outside
// --allow. Every READ is answered, the sink's memory stays bounded, a
// real nfs-cp still works afterwards, the case verifies, and the refused
// client adds a bounded number of custody records.
func TestServeUnderAttack(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("measures memory through /proc")
	}
	cp := peer.Require(t, "nfs-cp")
	sc := serveCase(t, "--record-timeout", "2s", "--reply-timeout", "2s")
	addr := fmt.Sprintf("127.0.0.1:%d", sc.port)
	pid := sc.cmd.Process.Pid
	src := filepath.Join(t.TempDir(), "target.bin")
	data := make([]byte, 3<<20)
	rand.Read(data)
	os.WriteFile(src, data, 0o644)
	if out, err := exec.Command(cp, src, sc.url("target.bin")).CombinedOutput(); err != nil {
		t.Fatalf("nfs-cp: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nc, err := nfsclient.Dial(ctx, addr, nfsclient.Auth{Machine: "attack-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := nfsclient.NewClient(nc)
	root, err := nc.Mnt(ctx, "/esxsink")
	if err != nil {
		t.Fatal(err)
	}
	fh, _, err := c.Lookup(ctx, root, "target.bin")
	if err != nil {
		t.Fatal(err)
	}
	// READs above rtmax: answered with a short read, never a drop.
	for _, count := range []uint32{2 << 20, 16 << 20} {
		got, eof, err := c.Read(ctx, fh, 0, count)
		if err != nil || len(got) != 1<<20 || eof || !bytes.Equal(got, data[:1<<20]) {
			t.Fatalf("READ of %d bytes: %d bytes, eof %v, err %v; want the first MiB and eof false", count, len(got), eof, err)
		}
	}
	if got, eof, err := c.Read(ctx, fh, 2<<20, 16<<20); err != nil || len(got) != 1<<20 || !eof {
		t.Fatalf("READ of the last MiB: %d bytes, eof %v, err %v", len(got), eof, err)
	}
	nc.Close()
	base := rssMiB(t, pid)
	// The peak is sampled all through the attacks, not only between them.
	var peakMu sync.Mutex
	peak := base
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
				if err != nil {
					continue
				}
				for _, l := range strings.Split(string(b), "\n") {
					if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
						kb, _ := strconv.Atoi(f[1])
						peakMu.Lock()
						peak = max(peak, kb>>10)
						peakMu.Unlock()
					}
				}
			}
		}
	}()
	sample := func(phase string) {
		r := rssMiB(t, pid)
		peakMu.Lock()
		peak = max(peak, r)
		peakMu.Unlock()
		t.Logf("after %s: sink RSS %d MiB (at start %d MiB)", phase, r, base)
	}
	var attackers []net.Conn
	dial := func(local string) net.Conn {
		d := net.Dialer{Timeout: 5 * time.Second}
		if local != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
		}
		conn, err := d.Dial("tcp", addr)
		if err != nil {
			return nil
		}
		attackers = append(attackers, conn)
		return conn
	}
	// Pipelined 16 MiB READs whose replies are never read.
	big := rpcRecord(1, 100003, 3, 6, readArgs(fh, 0, 16<<20))
	for i := 0; i < 20; i++ {
		if conn := dial(""); conn != nil {
			conn.SetWriteDeadline(time.Now().Add(3 * time.Second))
			for j := 0; j < 64; j++ {
				if _, err := conn.Write(big); err != nil {
					break
				}
			}
		}
	}
	sample("pipelined READs")
	// WRITEs of 1 MiB from clients that never read a reply.
	w := binary.BigEndian.AppendUint32(nil, uint32(len(fh)))
	w = append(w, fh...)
	w = binary.BigEndian.AppendUint64(w, 0)
	w = binary.BigEndian.AppendUint32(w, 1<<20)
	w = binary.BigEndian.AppendUint32(w, 0)
	w = binary.BigEndian.AppendUint32(w, 1<<20)
	w = append(w, data[:1<<20]...)
	write := rpcRecord(2, 100003, 3, 7, w)
	for i := 0; i < 10; i++ {
		if conn := dial(""); conn != nil {
			conn.SetWriteDeadline(time.Now().Add(3 * time.Second))
			for j := 0; j < 32; j++ {
				if _, err := conn.Write(write); err != nil {
					break
				}
			}
		}
	}
	sample("non-reading writers")
	// Hundreds of records announced as 1 MiB and left one byte short.
	half := append(binary.BigEndian.AppendUint32(nil, (1<<20)|1<<31), make([]byte, 1<<20-1)...)
	var halfSent []net.Conn
	for i := 0; i < 300; i++ {
		if conn := dial(""); conn != nil {
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			conn.Write(half)
			halfSent = append(halfSent, conn)
		}
	}
	sample("half-sent records")
	// A flood from an address outside --allow, one NULL call each.
	null := rpcRecord(3, 100003, 3, 0, nil)
	for i := 0; i < 1000; i++ {
		if conn := dial("127.0.0.2"); conn != nil {
			conn.Write(null)
			conn.Close()
		}
	}
	sample("refused flood")
	close(stopSampling)
	<-sampled
	if peak-base > attackRSSBound {
		t.Errorf("the sink grew from %d to %d MiB under attack; the bound is %d MiB", base, peak, attackRSSBound)
	}
	t.Logf("sink RSS: %d MiB at start, %d MiB at the peak of the attacks (bound %d MiB over the start)", base, peak, attackRSSBound)
	// A record left half sent is dropped after --record-timeout.
	if len(halfSent) > 0 {
		hs := halfSent[0]
		hs.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := bufio.NewReader(hs).ReadByte(); err == nil {
			t.Error("the sink answered a half-sent record")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Error("a half-sent record was kept past --record-timeout")
		}
	}
	for _, conn := range attackers {
		conn.Close()
	}
	// The sink still serves: a real nfs-cp, once the attackers' slots are
	// free (they close as the sink sees each connection end).
	second := filepath.Join(t.TempDir(), "second.bin")
	os.WriteFile(second, data[:1<<20], 0o644)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := exec.Command(cp, second, sc.url("second.bin")).CombinedOutput()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nfs-cp after the attacks: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond) // connections close as the sink notices; nfs-cp is retried as a client would
	}
	sc.stop(t)
	// The attackers' WRITEs rewrote target.bin with its own first MiB: the
	// same bytes, so the case still verifies.
	if out, code := esx(t, "", "verify", sc.dir); code != 0 {
		t.Fatalf("verify after the attacks: exit %d\n%s", code, out)
	}
	recs := caseRecords(t, sc.dir)
	refused := recordsOf[custody.PolicyRefused](t, recs, custody.TypePolicyRefused)
	strangers := 0
	for _, r := range refused {
		if r.Client == "127.0.0.2" {
			strangers++
		}
	}
	if strangers == 0 || strangers > 3 {
		t.Errorf("the refused client's 1000 connections left %d policy.refused records; want 1 to 3", strangers)
	}
}
