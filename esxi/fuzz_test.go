package esxi

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Every parser has a fuzz target: none may panic, and what each accepts
// must be self-consistent. Seeds are the testdata fixtures; go test runs
// the seeds, CI fuzzes each target for a few seconds.

func seed(f *testing.F, names ...string) {
	for _, n := range names {
		f.Add(fixture(f, n))
	}
}

func seedBytes(f *testing.F, names ...string) {
	for _, n := range names {
		f.Add([]byte(fixture(f, n)))
	}
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

func FuzzParseGetAllVMs(f *testing.F) {
	seed(f, "getallvms-annotated.txt", "getallvms-plain.txt", "getallvms-odd-names.txt")
	f.Add("Vmid Name File Guest OS Version Annotation\n1 [a] [b] [c] d.vmx g vmx-1 x\n")
	f.Add("Vmid Name File Guest OS Version Annotation\n5   Finance\nDB (prod)   [ds] f/f.vmx   g   vmx-8   a\n2031 b\n")
	f.Add("Vmid Name File Guest OS Version\n21   \n\tx\n   [ds]  x /x.vmx   g   vmx-8\n")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseGetAllVMs(s)
		if err != nil {
			return
		}
		seen := map[int]bool{}
		for _, vm := range l.VMs {
			if seen[vm.ID] || vm.ID < 0 || vm.Line < 1 || !strings.HasPrefix(vm.Version, "vmx-") || !strings.HasSuffix(vm.Path, ".vmx") {
				t.Fatalf("inconsistent VM %+v", vm)
			}
			if !slices.Contains(l.Named, vm.ID) {
				t.Fatalf("vmid %d parsed but not in Named %v", vm.ID, l.Named)
			}
			seen[vm.ID] = true
		}
	})
}

func FuzzParseSnapshotTree(f *testing.F) {
	seed(f, "snapshot-nested.txt", "snapshot-siblings.txt")
	f.Add("Get Snapshot:\n")
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := ParseSnapshotTree(s)
		if err != nil {
			return
		}
		var walk func(nodes []*SnapshotNode, depth int)
		walk = func(nodes []*SnapshotNode, depth int) {
			for _, n := range nodes {
				if n.Depth != depth || n.ID < 0 {
					t.Fatalf("node %+v at depth %d", n, depth)
				}
				walk(n.Children, depth+1)
			}
		}
		walk(tr.Roots, 0)
		_ = CheckSnapshotCreate(s)
		_, _ = ParseSnapshotRemove(s)
	})
}

func FuzzParsePowerState(f *testing.F) {
	f.Add("Retrieved runtime info\nPowered on\n")
	f.Add("Suspended")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParsePowerState(s)
		if err == nil && st != PoweredOn && st != PoweredOff && st != Suspended {
			t.Fatalf("state %q", st)
		}
	})
}

// typedViews runs every typed esxcli helper on recs; none may panic.
func typedViews(recs []Record) {
	_, _ = VMProcesses(recs)
	_, _ = Filesystems(recs)
	_, _ = NFSVolumes(recs)
	_, _ = CoreDevices(recs)
	_, _ = SystemVersion(recs)
	_, _ = SystemHostname(recs)
}

func FuzzParseCSV(f *testing.F) {
	seed(f, "esxcli-vm-process-list.csv", "esxcli-filesystem-list.csv", "esxcli-nfs-list.csv",
		"esxcli-core-device-list.csv", "esxcli-system-version-get.csv", "esxcli-system-hostname-get.csv")
	f.Fuzz(func(t *testing.T, s string) {
		recs, err := ParseCSV(s)
		if err != nil {
			return
		}
		for _, r := range recs {
			if len(r) != len(recs[0]) {
				t.Fatalf("records of %d and %d fields", len(recs[0]), len(r))
			}
		}
		typedViews(recs)
	})
}

func FuzzParseEsxcliText(f *testing.F) {
	seed(f, "esxcli-filesystem-list.txt", "esxcli-nfs-list.txt", "esxcli-vm-process-list.txt",
		"esxcli-system-version-get.txt", "esxcli-system-hostname-get.txt")
	f.Fuzz(func(t *testing.T, s string) {
		recs, err := ParseEsxcliText(s)
		if err == nil {
			typedViews(recs)
		}
	})
}

func FuzzParseXML(f *testing.F) {
	seed(f, "esxcli-vm-process-list.xml")
	f.Fuzz(func(t *testing.T, s string) {
		recs, err := ParseXML(s)
		if err == nil {
			typedViews(recs)
		}
	})
}

func FuzzParseKeyValue(f *testing.F) {
	seed(f, "esxcli-system-version-get.kv")
	f.Fuzz(func(t *testing.T, s string) {
		recs, err := ParseKeyValue(s)
		if err == nil {
			typedViews(recs)
		}
	})
}

func FuzzParseNASList(f *testing.F) {
	seed(f, "esxcfg-nas-l.txt")
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseNASList(s)
		for _, m := range ms {
			if err == nil && (!strings.HasPrefix(m.Share, "/") || m.Label == "" || strings.ContainsAny(m.Host, " \t")) {
				t.Fatalf("mount %+v", m)
			}
		}
		_ = CheckNASAdd(s, "l")
		_ = CheckNASRemove(s, "l")
	})
}

func FuzzParseVmkfstoolsQuery(f *testing.F) {
	f.Add("Disk a.vmdk is a Passthrough Raw Device Mapping\nMaps to: vml.01\n")
	f.Fuzz(func(t *testing.T, s string) {
		info, err := ParseVmkfstoolsQuery(s)
		if err == nil && (info.Device == "" || info.Disk == "") {
			t.Fatalf("%+v", info)
		}
	})
}

func FuzzParseLsusb(f *testing.F) {
	seed(f, "lsusb.txt")
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseLsusb(s)
		if err == nil && len(ds) > strings.Count(s, "\n")+1 {
			t.Fatalf("%d devices from %d lines", len(ds), strings.Count(s, "\n")+1)
		}
	})
}

func FuzzParseVMwareVersion(f *testing.F) {
	seed(f, "vmware-vl.txt")
	f.Add("VMware ESXi 7.0 GA")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVMwareVersion(s)
		var major, minor int
		if _, serr := fmt.Sscanf(v.Version, "%d.%d", &major, &minor); err == nil && (serr != nil || major != v.Major || minor != v.Minor) {
			t.Fatalf("%+v", v)
		}
	})
}

func FuzzParseVMX(f *testing.F) {
	seedBytes(f, "evidence-vm.vmx")
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseVMX(b)
		if err != nil {
			return
		}
		for i, d := range v.Devices {
			if d.Node != fmt.Sprintf("%s%d:%d", d.Bus, d.Controller, d.Unit) {
				t.Fatalf("node %q for %+v", d.Node, d)
			}
			if i > 0 && v.Devices[i-1].Node == d.Node {
				t.Fatalf("node %s twice", d.Node)
			}
		}
		// Keys are case-insensitive and the last entry of a key wins.
		last := map[string]string{}
		for _, e := range v.Dict.Entries {
			last[asciiLower(e.Key)] = e.Value
		}
		for _, e := range v.Dict.Entries {
			got, ok := v.Dict.Get(asciiUpper(e.Key))
			if !ok || got != last[asciiLower(e.Key)] {
				t.Fatalf("Get(%q) = %q, %v; entry %+v", asciiUpper(e.Key), got, ok, e)
			}
		}
	})
}

func FuzzParseVMSD(f *testing.F) {
	seedBytes(f, "evidence-vm.vmsd", "empty.vmsd")
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseVMSD(b)
		if err != nil {
			return
		}
		if !slices.IsSortedFunc(v.Snapshots, func(a, b VMSDSnapshot) int { return a.Slot - b.Slot }) {
			t.Fatal("snapshots not in slot order")
		}
	})
}

// A value escaped the way VMware writes it parses back to itself.
func FuzzDictRoundTrip(f *testing.F) {
	f.Add("displayName", "Finance \"Q3\" | ledger\n")
	f.Add("a.b", "")
	f.Fuzz(func(t *testing.T, key, value string) {
		if key == "" || strings.ContainsAny(key, " \t\"=#\r\n\x00") || strings.TrimSpace(key) != key {
			t.Skip()
		}
		var b strings.Builder
		for i := 0; i < len(value); i++ {
			c := value[i]
			if c < 0x20 || c == '"' || c == '|' || c == '#' || c >= 0x7f {
				fmt.Fprintf(&b, "|%02X", c)
			} else {
				b.WriteByte(c)
			}
		}
		d, err := ParseDict("fuzz", []byte(key+" = \""+b.String()+"\"\n"))
		if err != nil {
			t.Fatalf("%q = %q: %v", key, b.String(), err)
		}
		if got := d.String(asciiUpper(key)); got != value {
			t.Fatalf("%q: got %q, want %q", key, got, value)
		}
	})
}

func FuzzParseDDStatus(f *testing.F) {
	f.Add("2047+1 records in\n2048+0 records out\n1073741824 bytes (1.0GB) copied\n")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseDDStatus(s)
		if err == nil && (st.FullIn < 0 || st.PartialOut < 0) {
			t.Fatalf("%+v", st)
		}
	})
}

func FuzzCopyHashes(f *testing.F) {
	f.Add("d41d8cd98f00b204e9800998ecf8427e  -\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := CopyHashes(s, []HashAlg{MD5, SHA256})
		if err == nil && (len(got[MD5]) != 32 || len(got[SHA256]) != 64) {
			t.Fatalf("%v", got)
		}
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add("81a4 1000 8 512 0 0 1 9983327 1795578427 1795578427 1795578427\n")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseStat(s)
		if err == nil && (st.Size < 0 || st.Blocks < 0) {
			t.Fatalf("%+v", st)
		}
	})
}

func FuzzParseFolderListing(f *testing.F) {
	f.Add("81a4 10 8 1700000000 a b\n c\x0041ed 4096 8 1700000001 dir\x00")
	f.Fuzz(func(t *testing.T, s string) {
		es, err := ParseFolderListing(s)
		for _, e := range es {
			if err == nil && (e.Name == "" || strings.ContainsAny(e.Name, "/\x00")) {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}

func FuzzParseFindOutput(f *testing.F) {
	f.Add("/vmfs/volumes/a/b.vmx\n")
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParseFindOutput(s)
		for _, p := range ps {
			if err == nil && !strings.HasPrefix(p, "/") {
				t.Fatalf("path %q", p)
			}
		}
	})
}

func FuzzParseConfigFiles(f *testing.F) {
	f.Add("   name = \"x\",\n   files = (vim.vm.FileInfo) {\n      vmPathName = \"[ds] x/x.vmx\",\n")
	f.Add(fixture(f, "getconfig-escaped.txt"))
	f.Add("   name = \"a\\\\\",\n   vmPathName = \"[ds] two\nlines \\\"q\\\" x.vmx\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConfigFiles(s)
		if err == nil && c.VMPathName == "" {
			t.Fatal("no vmPathName")
		}
	})
}

func FuzzParseDatastorePath(f *testing.F) {
	f.Add("[ssd-store] Finance [Q3] Ledger/Finance [Q3] Ledger.vmx")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseDatastorePath(s)
		if err != nil {
			return
		}
		if q, err := ParseDatastorePath(p.String()); err != nil || q != p {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, p, p.String(), q, err)
		}
		if !strings.HasPrefix(p.HostPath(), "/vmfs/volumes/"+p.Datastore) {
			t.Fatalf("HostPath %q", p.HostPath())
		}
	})
}

func FuzzClassify(f *testing.F) {
	f.Add("sh: md5sum: not found\nError performing operation: NFS Error: Unable to Unmount filesystem: Busy.\n")
	f.Fuzz(func(t *testing.T, s string) {
		err := Classify(s)
		if err == nil {
			return
		}
		var he *HostError
		if !errors.As(err, &he) || !strings.Contains(s, he.Line) {
			t.Fatalf("Classify(%q) = %v", s, err)
		}
	})
}

// Builders that succeed produce exactly the intended words, for any value.
func FuzzBuilders(f *testing.F) {
	for _, s := range nastyStrings(10) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(line string, err error, want ...string) {
			t.Helper()
			if err != nil {
				if !errors.Is(err, ErrInvalidArgument) {
					t.Fatalf("error %v does not wrap ErrInvalidArgument", err)
				}
				return
			}
			toks, perr := shTokens(line)
			if perr != nil || !slices.Equal(words(toks), want) {
				t.Fatalf("%q parses as %q (%v), want %q", line, words(toks), perr, want)
			}
		}
		p := "/" + s
		line, err := CmdHash(SHA256, p)
		check(line, err, "sha256sum", "<op <>", p)
		line, err = CmdStat(p)
		check(line, err, "stat", "-L", "-c", statFormat, p)
		line, err = CmdCopy(p, p+".copy", 4096, CopyOptions{})
		check(line, err, "dd", "if="+p, "of="+p+".copy", "bs=4096", "conv=noerror,sync")
		line, err = CmdReadFile(p, 65536)
		check(line, err, "head", "-c", "65536", "<op <>", p)
		line, err = CmdVmkfstoolsQuery(p)
		check(line, err, "vmkfstools", "-q", p)
		line, err = CmdNASAdd("h", p, s)
		check(line, err, "esxcfg-nas", "-a", "-o", "h", "-s", p, s)
		line, err = CmdSnapshotCreate(9, s, s, false, false)
		check(line, err, "vim-cmd", "vmsvc/snapshot.create", "9", s, s, "0", "0")
		line, err = CmdEsxcli(FormatCSV, "storage", s)
		check(line, err, "esxcli", "--formatter=csv", "storage", s)
	})
}
