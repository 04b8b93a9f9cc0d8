package esxsim

import (
	"encoding/xml"
	"regexp"
	"strings"
	"testing"
)

// TestFullScenarioOverSSH walks full.yaml as an examiner would: names with
// spaces, brackets, quotes and $, an annotation over two lines, a branched
// snapshot tree, RDMs, a USB disk, a suspended and an unregistered VM,
// and esxcli's three machine formatters.
func TestFullScenarioOverSSH(t *testing.T) {
	th := startHost(t, loadScenario(t, "full.yaml"), nil)

	hdr, rows := parseGetAllVMs(t, th.mustSSH("vim-cmd vmsvc/getallvms"))
	if len(hdr) != 6 || len(rows) != 4 {
		t.Fatalf("getallvms: %q %+v", hdr, rows)
	}
	if rows[0].name != "Mail [legacy]" || rows[0].annotation != "Exchange 2013, do not reboot\nowner: it-ops" ||
		rows[1].name != `Tom's "lab" $HOME` || rows[1].file != "[Old SAN [LUN 5]] Tom's lab $HOME/Tom's lab $HOME.vmx" {
		t.Fatalf("rows %+v", rows)
	}
	vmx := lines(th.mustSSH("find /vmfs/volumes -name '*.vmx'"))
	if len(vmx) != 5 || !strings.HasSuffix(vmx[3], "/Orphan-2019/Orphan-2019.vmx") {
		t.Fatalf("find .vmx (the unregistered VM must be found on disk): %q", vmx)
	}
	tom := "/vmfs/volumes/Old SAN [LUN 5]/Tom's lab $HOME"
	if got := th.mustSSH("grep displayName " + shQuote(tom+"/Tom's lab $HOME.vmx")); got != "displayName = \"Tom's |22lab|22 $HOME\"\n" {
		t.Fatalf("vmx escaping: %q", got)
	}
	// The delta of the disk on datastore1 is in the VM folder too.
	if got := lines(th.mustSSH("ls " + shQuote(tom))); len(got) != 12 || got[0] != "Tom's lab $HOME-000001-delta.vmdk" || got[9] != "db-test-000001-delta.vmdk" {
		t.Fatalf("VMFS-5 snapshot files: %q", got)
	}

	// The snapshot tree with a branch.
	nodes := parseSnapshotTree(t, th.mustSSH("vim-cmd vmsvc/snapshot.get 11"))
	var shape []string
	for _, n := range nodes {
		shape = append(shape, strings.Repeat(">", n.depth)+n.name)
	}
	mustEqual(t, "tree", shape, []string{"before patch", ">after patch", ">>pre-upgrade", ">rollback test"})

	// RDMs: vmkfstools -q names the vml alias, which links to the LUN.
	rdm := regexp.MustCompile(`^Disk (.+) is a (Passthrough|Non-passthrough) Raw Device Mapping\nMaps to: (vml\.[0-9a-f]+)\n$`)
	if m := rdm.FindStringSubmatch(fixture(t, "vmkfstools-q.txt")); m == nil {
		t.Fatal("fixture does not parse")
	}
	for file, kind := range map[string]string{
		"/vmfs/volumes/datastore1/Mail [legacy]/Mail [legacy]_archive.vmdk": "Passthrough",
		"/vmfs/volumes/Old SAN [LUN 5]/web01/web01_data.vmdk":               "Non-passthrough",
	} {
		m := rdm.FindStringSubmatch(th.mustSSH("vmkfstools -q " + shQuote(file)))
		if m == nil || m[1] != file || m[2] != kind {
			t.Fatalf("vmkfstools -q %s: %q", file, m)
		}
		link := th.mustSSH("ls -l /vmfs/devices/disks/" + m[3])
		if !strings.Contains(link, " -> naa.") {
			t.Fatalf("vml alias: %q", link)
		}
	}
	if r := th.ssh("publickey", "vmkfstools -q '/vmfs/volumes/datastore1/db-test/db-test.vmdk'", nil); r.code == 0 || !strings.Contains(r.stdout, "is not a Raw Device Mapping") {
		t.Fatalf("vmkfstools -q of a flat disk: %+v", r)
	}
	// The running VM: the independent disk and the pRDM mapping stay
	// locked despite the snapshots; the LUN itself can be read.
	mail := "/vmfs/volumes/datastore1/Mail [legacy]/"
	for _, f := range []string{"Mail [legacy]_2-flat.vmdk", "Mail [legacy]_archive-rdmp.vmdk", "Mail [legacy]-000005-sesparse.vmdk"} {
		if r := th.ssh("publickey", "md5sum "+shQuote(mail+f), nil); r.code != 1 || !strings.Contains(r.stderr, "Device or resource busy") {
			t.Fatalf("%s: %+v", f, r)
		}
	}
	th.mustSSH("md5sum " + shQuote(mail+"Mail [legacy]-flat.vmdk") + " /vmfs/devices/disks/naa.600a098038304f4a6f2b4d6a2f4d5a31")

	// USB: lsusb lists it, esxcli says Is USB, and it can be read.
	if !strings.Contains(th.mustSSH("lsusb"), "Bus 001 Device 004: ID 0781:5583 SanDisk Corp. Ultra Fit\n") {
		t.Fatal("lsusb")
	}
	var usb map[string]string
	for _, d := range parseStructList(t, th.mustSSH("esxcli storage core device list")) {
		if d[""] == "mpx.vmhba32:C0:T0:L0" {
			usb = d
		}
	}
	if usb == nil || usb["Is USB"] != "true" || usb["Size"] != "128" || usb["Devfs Path"] != "/vmfs/devices/disks/mpx.vmhba32:C0:T0:L0" {
		t.Fatalf("USB device: %v", usb)
	}
	if out := th.mustSSH("dd if=/vmfs/devices/disks/mpx.vmhba32:C0:T0:L0:1 bs=1M 2>&1 >/dev/null"); out != "120+0 records in\n120+0 records out\n" {
		t.Fatalf("dd of the USB partition: %q", out)
	}

	// The suspended VM.
	mustEqual(t, "suspended", th.mustSSH("vim-cmd vmsvc/power.getstate 14"), "Retrieved runtime info\nSuspended\n")

	// Machine formatters.
	tab := parseTable(t, th.mustSSH("esxcli storage filesystem list"))
	if tab[1]["Volume Name"] != "Old SAN [LUN 5]" || tab[1]["Type"] != "VMFS-5" {
		t.Fatalf("filesystem table %v", tab)
	}
	var doc struct {
		XMLName xml.Name `xml:"output"`
		List    []struct {
			TypeName string `xml:"typeName,attr"`
			Fields   []struct {
				Name    string `xml:"name,attr"`
				String  string `xml:"string"`
				Integer string `xml:"integer"`
				Boolean string `xml:"boolean"`
			} `xml:"field"`
		} `xml:"root>list>structure"`
	}
	if err := xml.Unmarshal([]byte(th.mustSSH("esxcli --formatter=xml storage filesystem list")), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.List) != len(tab) || doc.List[1].TypeName == "" || doc.List[1].Fields[6].Name != "VolumeName" || doc.List[1].Fields[6].String != "Old SAN [LUN 5]" {
		t.Fatalf("xml: %+v", doc.List)
	}
	kv := lines(th.mustSSH("esxcli --formatter=keyvalue vm process list"))
	kvRe := regexp.MustCompile(`^structure\[(\d)\]\.VirtualMachine\.(\w+)\.(string|integer|boolean)=(.*)$`)
	names := map[string]bool{}
	for _, l := range kv {
		m := kvRe.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("keyvalue line %q", l)
		}
		if m[2] == "DisplayName" {
			names[m[4]] = true
		}
	}
	if len(names) != 2 || !names["Mail [legacy]"] || !names["web01"] {
		t.Fatalf("running VMs in keyvalue output: %v", names)
	}
	// Recorded output from a real host.
	if !strings.HasPrefix(th.mustSSH("esxcli hardware platform get"), "Platform Information\n   UUID: 0x4c") {
		t.Fatal("recorded output not used")
	}
}
