package esxsim

import (
	"fmt"
	"strings"
	"time"
)

// The files a generated guest disk holds before a scenario plants any:
// few, small and plausible for the guest's OS, so a student's fls shows
// a system disk, not an empty volume. A scenario's files: with the same
// path replace them.

// defaultGuestFiles are the usual files on disk index of VM v.
func defaultGuestFiles(v VMSpec, index int, when time.Time) []GuestFile {
	at := func(d time.Duration) time.Time { return when.Add(d) }
	if index > 0 {
		return []GuestFile{{Path: "/data/README.txt", Modified: at(2 * time.Hour),
			Content: fmt.Sprintf("Data volume %d of %s.\r\nDo not store backups here.\r\n", index+1, v.Name)}}
	}
	host := guestHostname(v.Name)
	if strings.HasPrefix(strings.ToLower(v.GuestOS), "windows") {
		return []GuestFile{
			{Path: "/Windows/System32/drivers/etc/hosts", Modified: at(0),
				Content: "# Copyright (c) 1993-2009 Microsoft Corp.\r\n#\r\n# This is a sample HOSTS file used by Microsoft TCP/IP for Windows.\r\n\r\n127.0.0.1       localhost\r\n::1             localhost\r\n"},
			{Path: "/Users/Administrator/Documents/notes.txt", Modified: at(26 * time.Hour),
				Content: fmt.Sprintf("%s\r\n- patch Tuesday: reboot window Sat 02:00\r\n- service account password rotated\r\n", strings.ToUpper(host))},
		}
	}
	return []GuestFile{
		{Path: "/etc/hostname", Modified: at(0), Content: host + "\n"},
		{Path: "/etc/os-release", Modified: at(0), Content: osRelease(v.GuestOS)},
		{Path: "/etc/hosts", Modified: at(0), Content: fmt.Sprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n", host)},
		{Path: "/home/user/notes.txt", Modified: at(50 * time.Hour),
			Content: "todo:\n- renew the TLS certificate before May\n- move backups off this box\n"},
		{Path: "/var/log/auth.log", Modified: at(51 * time.Hour),
			Content: fmt.Sprintf("%s %s sshd[1042]: Accepted publickey for user from 10.0.0.5 port 50122 ssh2\n", at(51*time.Hour).Format("Jan _2 15:04:05"), host)},
	}
}

// defaultDeviceFiles are the usual files on a LUN or USB disk.
func defaultDeviceFiles(d DeviceSpec, when time.Time) []GuestFile {
	if d.Kind == "usb" {
		return []GuestFile{{Path: "/Documents/todo.txt", Modified: when.Add(3 * time.Hour),
			Content: "buy printer toner\r\ncall the ISP about the uplink\r\n"}}
	}
	return []GuestFile{{Path: "/README.txt", Modified: when,
		Content: fmt.Sprintf("Volume on LUN %s (%s %s).\r\n", d.ID, d.Vendor, d.Model)}}
}

// guestHostname derives a host name from a VM's display name as an
// installer would suggest it: lower case, runs of other characters as one
// dash.
func guestHostname(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	s := b.String()
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	if s == "" {
		return "localhost"
	}
	return s
}

// osRelease is /etc/os-release for a VMware guest OS id.
func osRelease(guestOS string) string {
	g := strings.ToLower(guestOS)
	name, version, id := "Linux", "1", "linux"
	switch {
	case strings.HasPrefix(g, "ubuntu"):
		name, version, id = "Ubuntu", "22.04.4 LTS (Jammy Jellyfish)", "ubuntu"
	case strings.HasPrefix(g, "rhel9"):
		name, version, id = "Red Hat Enterprise Linux", "9.3 (Plow)", "rhel"
	case strings.HasPrefix(g, "rhel"):
		name, version, id = "Red Hat Enterprise Linux", "8.9 (Ootpa)", "rhel"
	case strings.HasPrefix(g, "debian"):
		name, version, id = "Debian GNU/Linux", "12 (bookworm)", "debian"
	case strings.HasPrefix(g, "centos"):
		name, version, id = "CentOS Stream", "9", "centos"
	case strings.HasPrefix(g, "sles"):
		name, version, id = "SLES", "15-SP5", "sles"
	}
	return fmt.Sprintf("NAME=%q\nVERSION=%q\nID=%s\nPRETTY_NAME=%q\n", name, version, id, name+" "+version)
}
