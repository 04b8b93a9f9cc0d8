package esxsim

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

const twoHosts = `
shared_datastores:
  - {name: shared1, hosts: [esxa, esxb], capacity: 1TiB}
hosts:
  - host: {hostname: esxa, password: "A-pass-1!"}
    datastores: [{name: a-local}]
    vms:
      - {name: web, datastore: shared1, power: "on", disks: [{size: 4MiB}]}
      - {name: a-only, power: "off", disks: [{size: 4MiB}]}
  - host: {hostname: esxb, password: "B-pass-1!"}
    datastores: [{name: b-local}]
    vms:
      - {name: db, power: "on", disks: [{size: 4MiB}]}
`

// startFleet starts every host of a fleet scenario with one client key
// that logs in to all of them.
func startFleet(t *testing.T, yml string) (*Fleet, map[string]*testHost) {
	t.Helper()
	fs, err := ParseFleet([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	pub, keyFile := clientKey(t)
	f, err := NewFleet(fs, FleetConfig{AuthorizedKeys: []ssh.PublicKey{pub}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ths := map[string]*testHost{}
	for _, h := range f.Hosts() {
		ths[h.Hostname()] = asTestHost(t, h, keyFile)
	}
	return f, ths
}

// TestFleetSharedDatastore: a datastore two hosts share is one set of
// files: what one host writes the other reads, both name it by the same
// UUID, a VM running on one host holds its disk busy for the other, and
// only the host that registered a VM lists it.
func TestFleetSharedDatastore(t *testing.T) {
	_, th := startFleet(t, twoHosts)
	a, b := th["esxa"], th["esxb"]
	if a.port == b.port {
		t.Fatalf("both hosts on port %s", a.port)
	}
	a.mustSSH(`echo "written on esxa" > /vmfs/volumes/shared1/note.txt`)
	mustEqual(t, "file written on esxa, read on esxb", b.mustSSH("cat /vmfs/volumes/shared1/note.txt"), "written on esxa\n")
	mustEqual(t, "shared datastore's UUID", a.mustSSH("readlink /vmfs/volumes/shared1"), b.mustSSH("readlink /vmfs/volumes/shared1"))
	if a.mustSSH("readlink /vmfs/volumes/a-local") == b.mustSSH("readlink /vmfs/volumes/b-local") {
		t.Fatal("two local datastores have one UUID")
	}
	if !strings.Contains(b.mustSSH("ls /vmfs/volumes/shared1/web/"), "web.vmx") {
		t.Fatal("esxb does not see the VM folder esxa keeps on the shared datastore")
	}
	if r := b.ssh("publickey", "md5sum /vmfs/volumes/shared1/web/web-flat.vmdk", nil); r.code == 0 || !strings.Contains(r.stderr, "Device or resource busy") {
		t.Fatalf("web runs on esxa, yet esxb reads its disk: exit %d %s", r.code, r.stderr)
	}
	if out := b.mustSSH("vim-cmd vmsvc/getallvms"); strings.Contains(out, "web") || !strings.Contains(out, "db") {
		t.Fatalf("esxb registers only db:\n%s", out)
	}
	if out := a.mustSSH("vim-cmd vmsvc/getallvms"); !strings.Contains(out, "[shared1] web/web.vmx") {
		t.Fatalf("esxa registers web on the shared datastore:\n%s", out)
	}
	// ".." out of the shared volume is this host's tree, not the tree of
	// the host that grafted the volume last.
	mustEqual(t, "esxa's volumes seen through the shared one", strings.Contains(a.mustSSH("cd /vmfs/volumes/shared1/.. && ls"), "a-local"), true)
	mustEqual(t, "esxb's volumes seen through the shared one", strings.Contains(b.mustSSH("cd /vmfs/volumes/shared1/.. && ls"), "b-local"), true)
	// A snapshot's delta, written by esxa, is there for esxb.
	a.mustSSH("vim-cmd vmsvc/snapshot.create 1 s1 '' 0 0")
	if !strings.Contains(b.mustSSH("ls /vmfs/volumes/shared1/web/"), "web-000001.vmdk") {
		t.Fatal("esxb does not see the delta esxa wrote")
	}
}

// TestFleetScenarioErrors: mistakes in a fleet are errors that name what
// is wrong, and a file without hosts: is a single-host scenario.
func TestFleetScenarioErrors(t *testing.T) {
	fs, err := ParseFleet([]byte("host: {hostname: solo}\n"))
	if err != nil || !fs.Single || fs.Hosts[0].Host.Hostname != "solo" || fs.Hosts[0].Host.SSH != SSHRunning {
		t.Fatalf("single-host scenario: %+v %v", fs, err)
	}
	for _, c := range []struct{ yml, want string }{
		{"hosts: [{host: {hostname: a}}, {host: {hostname: a}}]", `host "a" listed twice`},
		{"hosts: [{host: {}}]", "has no host.hostname"},
		{"hosts: [{host: {hostname: a}, datastores: [{name: d}]}, {host: {hostname: b}, datastores: [{name: d}]}]", "two datastores of one name need a uuid: each"},
		{"hosts: [{host: {hostname: a}, datastores: [{name: d, uuid: u1}]}, {host: {hostname: b}, datastores: [{name: e, uuid: u1}]}]", "datastore uuid u1 is listed by hosts a and b"},
		{"vcenter: {}\nhosts: [{host: {hostname: a}, datastores: [{name: d, uuid: u1}]}, {host: {hostname: b}, datastores: [{name: d, uuid: u2}]}]", "put the hosts in different datacenters"},
		{"vcenter: {datacenters: [{name: Datacenter, hosts: [a]}]}\nhosts: [{host: {hostname: a}}]", "a datacenter needs a name of its own"},
		{"vcenter: {datacenters: [{name: East, hosts: [b]}], clusters: [{name: c, hosts: [a, b]}]}\nhosts: [{host: {hostname: a}}, {host: {hostname: b}}]", "host b is not in datacenter Datacenter"},
		{"shared_datastores: [{name: s, hosts: [c]}]\nhosts: [{host: {hostname: a}}]", `unknown host "c"`},
		{"hosts: [{host: {hostname: a, ssh: paused}}]", `ssh "paused"`},
		{"hosts: [{host: {hostname: a, lockdown: total}}]", `lockdown "total"`},
		{"hosts: [{host: {hostname: a, ssh_policy: sometimes}}]", `ssh_policy "sometimes"`},
		{"hosts: [{host: {hostname: a, advanced: {UserVars.Nope: 1}}}]", "is not one the simulator knows"},
		{"hosts: [{host: {hostname: a, advanced: {UserVars.ESXiShellTimeOut: soon}}}]", "is not an integer"},
		{"vcenter: {clusters: [{name: c, hosts: [x]}]}\nhosts: [{host: {hostname: a}}]", `unknown host "x"`},
		{"vcenter: {}\nhosts: [{host: {hostname: a}, vms: [{name: v}]}, {host: {hostname: b}, vms: [{name: v}]}]", "unique VM names"},
		{"vcenter: {events: [{kind: party}]}\nhosts: [{host: {hostname: a}}]", `kind "party"`},
		{"shared_datastores: [{name: s, hosts: [a, b]}]\nhosts: [{host: {hostname: a}, vms: [{name: v, datastore: s}]}, {host: {hostname: b}, vms: [{name: w, datastore: s, folder: v}]}]", "use one folder"},
		{"hosts: [{host: {hostname: a}}]\nextra: 1", "field extra not found"},
	} {
		_, err := ParseFleet([]byte(c.yml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v, want %q", c.yml, err, c.want)
		}
	}
}
