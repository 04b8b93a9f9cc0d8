package esxsim

import (
	"regexp"
	"strings"
	"testing"
)

// TestIdentityAndApplets checks identity commands and busybox applets
// over SSH against the layouts of real outputs.
func TestIdentityAndApplets(t *testing.T) {
	th := startHost(t, loadScenario(t, "basic.yaml"), nil)
	dir := "/vmfs/volumes/datastore1/Unused server"
	for _, c := range []struct{ cmd, want string }{
		{"vmware -v", `^VMware ESXi 8\.0\.2 build-22380479\n$`},
		{"vmware -l", `^VMware ESXi 8\.0\.2 Update 2\n$`},
		{"vmware -vl", `^VMware ESXi 8\.0\.2 build-22380479\nVMware ESXi 8\.0\.2 Update 2\n$`},
		{"uname -a", `^VMkernel esx-train01 8\.0\.2 #1 SMP Release build-22380479 Sep  4 2023 15:00:56 x86_64 GNU/Linux\n$`},
		{"uname", `^VMkernel\n$`},
		{"hostname", `^esx-train01\n$`},
		{"esxcli system version get", `^   Product: VMware ESXi\n   Version: 8\.0\.2\n   Build: Releasebuild-22380479\n   Update: 2\n   Patch: 0\n$`},
		{"esxcli system hostname get", `^   Domain Name: lab\.example\n   Fully Qualified Domain Name: esx-train01\.lab\.example\n   Host Name: esx-train01\n$`},
		{"esxcli --formatter=csv system version get", `^Build,Patch,Product,Update,Version,\nReleasebuild-22380479,0,VMware ESXi,2,8\.0\.2,\n$`},
		{"lsusb", `^Bus 001 Device 001: ID 0e0f:8003 VMware, Inc\. Root Hub\nBus 002 Device 001: ID 0e0f:8002 VMware, Inc\. Root Hub\n$`},
		{"ls -l " + shQuote(dir), `(?m)^total \d+\n(-rw-------    1 root     root     +\d+ \w{3} [ \d]\d \d\d:\d\d .+\n|-rwxr-xr-x    1 root     root     +\d+ \w{3} [ \d]\d \d\d:\d\d .+\n)+$`},
		{"ls -l /vmfs/volumes/datastore1", `^lrwxr-xr-x    1 root     root            35 \w{3} [ \d]\d \d\d:\d\d /vmfs/volumes/datastore1 -> [0-9a-f-]{35}\n$`},
		{"ls -lh " + shQuote(dir+"/Unused server-flat.vmdk"), `^-rw-------    1 root     root        1\.0G .* /vmfs/volumes/datastore1/Unused server/Unused server-flat\.vmdk\n$`},
		{"stat -c '%s %n' " + shQuote(dir+"/Unused server-flat.vmdk"), `^1073741824 /vmfs/volumes/datastore1/Unused server/Unused server-flat\.vmdk\n$`},
		{"stat /nothere", `^stat: can't stat '/nothere': No such file or directory\n$`},
		{"mkdir -p /tmp/a/b/c && ls /tmp/a/b && rm -r /tmp/a && ls /tmp/a", `^c\nls: /tmp/a: No such file or directory\n$`},
		{"mkdir /tmp", `^mkdir: can't create directory '/tmp': File exists\n$`},
		{"rm /vmfs/volumes/datastore1/Ubuntu/Ubuntu-flat.vmdk", `^rm: can't remove '/vmfs/volumes/datastore1/Ubuntu/Ubuntu-flat\.vmdk': Device or resource busy\n$`},
		{"df -h | head -n 1", `^Filesystem\s+Size\s+Used\s+Available\s+Use%\s+Mounted on\n$`},
		{"df | grep datastore1", `^VMFS-6\s+998579896320\s+\d+\s+656056254464\s+35% /vmfs/volumes/datastore1\n$`},
		{"find /vmfs/volumes/datastore1/ -maxdepth 2 -type f -name '*.vmdk' ! -name '*-flat.vmdk'", `^/vmfs/volumes/datastore1/Ubuntu/Ubuntu\.vmdk\n/vmfs/volumes/datastore1/Unused server/Unused server\.vmdk\n$`},
		{"find /vmfs/volumes/datastore1/Ubuntu -name '*.vswp' -exec ls {} \\;", `^(/vmfs/volumes/datastore1/Ubuntu/.*\.vswp\n){2}$`},
		{"head -c 16 " + shQuote(dir+"/Unused server.vmx") + " | wc -c", `^16\n$`},
		{"dd if=/dev/zero bs=1k count=3 | wc -c", `^3\+0 records in\n3\+0 records out\n3072\n$`},
		{"dd if=/dev/zero bs=1k count=3 of=/tmp/z && dd if=/tmp/z of=/tmp/z2 bs=512 skip=1 && wc -c /tmp/z2", `^3\+0 records in\n3\+0 records out\n5\+0 records in\n5\+0 records out\n2560 /tmp/z2\n$`},
		{"dd bs=1x", `^dd: invalid number '1x'\n$`},
		{"dd foo", `(?s)^BusyBox multi-call binary\.\n\nUsage: dd .*`},
		{"dd if=/tmp/z of=/tmp/z3 bs=1k conv=bogus", `^dd: invalid argument 'bogus' to 'conv'\n$`},
		{"sha256sum /tmp/z | cut -c1-4", `^sh: cut: not found\n$`},
		{"echo abc | sha1sum", `^03cfd743661f07975fa2f1220c5194cbaff48451  -\n$`},
		{"grep -c present " + shQuote(dir+"/Unused server.vmx"), `^\d+\n$`},
		{"cat /etc/motd | head -n 1", `^The time and date of this login have been sent to the system logs\.\n$`},
	} {
		r := th.ssh("publickey", "{ "+c.cmd+"; } 2>&1", nil)
		if !regexp.MustCompile(c.want).MatchString(r.stdout) {
			t.Errorf("%s:\n%s\nwant %s", c.cmd, r.stdout, c.want)
		}
	}
	if !strings.Contains(th.mustSSH("cat /var/log/shell.log"), "[root]: { dd if=/dev/zero bs=1k count=3 | wc -c; } 2>&1") {
		t.Error("shell.log does not record the command")
	}
}

// TestCommandNamesMatchCommands: every listed program runs, so /bin shows
// nothing the shell cannot start.
func TestCommandNamesMatchCommands(t *testing.T) {
	for _, n := range commandNames {
		if command(n) == nil {
			t.Errorf("%s is listed in /bin but has no implementation", n)
		}
	}
}
