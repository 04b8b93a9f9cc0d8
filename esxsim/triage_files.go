package esxsim

import (
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// buildTriageFiles lays out the host files an incident responder collects
// (esxi.TriagePaths): logs in /var/run/log with /var/log links to them as
// ESXi 7/8 has, older logs in /scratch/log, accounts, the persistence
// spots (rc.local.d/local.sh, root's crontab, ssh keys) and the shell
// history. A scenario's files: entries are placed afterwards, so an
// exercise can replace any of them with a planted one.
func (h *Host) buildTriageFiles(boot time.Time) {
	host := h.sc.Host
	user := host.User
	if user == "" {
		user = "root"
	}
	ts := func(d time.Duration) string { return boot.Add(d).UTC().Format("2006-01-02T15:04:05.000Z") }

	h.put("/etc/passwd", 0o644, boot, []byte("root:x:0:0:Administrator:/:/bin/sh\n"+
		"daemon:x:2:2::/var/empty:/sbin/nologin\nnfsnobody:x:65534:65534:nfsnobody:/:/sbin/nologin\n"+
		"dcui:x:100:100:DCUI User:/:/sbin/nologin\nvpxuser:x:500:100:VMware VirtualCenter administration account:/:/sbin/nologin\n"))
	salt := hexOf(stableHash("salt", host.Hostname), 8)
	h.put("/etc/shadow", 0o600, boot, []byte(fmt.Sprintf("root:$6$%s$%s:19650:0:99999:7:::\n"+
		"daemon:*:13358:0:99999:7:::\nnfsnobody:!!:13358:0:99999:7:::\ndcui:*:13358:0:99999:7:::\n"+
		"vpxuser:$6$%s$%s:19650:0:99999:7:::\n", salt, hexOf(stableHash("root", host.Password), 43), salt, hexOf(stableHash("vpx", host.Hostname), 43))))
	h.put("/etc/group", 0o644, boot, []byte("root:x:0:\ndaemon:x:2:\nusers:x:100:dcui,vpxuser\nnfsnobody:x:65534:\n"))
	h.put("/etc/rc.local.d/local.sh", 0o755, boot, []byte(localSh))
	h.put("/etc/ssh/sshd_config", 0o644, boot, []byte(sshdConfig))
	h.put("/etc/ssh/keys-root/authorized_keys", 0o600, boot, []byte(strings.Join(host.AuthorizedKeys, "\n")))
	h.put("/etc/ssh/ssh_host_ed25519_key.pub", 0o644, boot, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"+hexOf(stableHash("hostkey", host.Hostname), 32)+" root@"+host.Hostname+"\n"))
	h.put("/etc/vmware/hostd/hostsvc.xml", 0o644, boot, []byte("<ConfigRoot>\n  <mode>normal</mode>\n  <service>\n    <TSM-SSH>on</TSM-SSH>\n  </service>\n</ConfigRoot>\n"))
	for _, d := range []string{"/var/tmp", "/var/core"} {
		h.fs.put(d, &node{mode: fs.ModeDir | 0o755, mtime: boot})
	}
	h.put("/var/spool/cron/crontabs/root", 0o600, boot, []byte(crontab))
	h.put("/.ash_history", 0o600, boot, []byte("esxcli system version get\nvim-cmd vmsvc/getallvms\ncd /vmfs/volumes\nls -la\nexit\n"))

	// ESXi 7/8 writes its logs to /var/run/log; /var/log holds links.
	runLogs := map[string]string{
		"auth.log": fmt.Sprintf("%s sshd[2098880]: FIPS mode initialized\n%s sshd[2100017]: Connection from 192.168.50.20 port 50122\n%s sshd[2100017]: Accepted keyboard-interactive/pam for %s from 192.168.50.20 port 50122 ssh2\n%s sshd[2100017]: Session opened for '%s' on /dev/char/pty/t0\n",
			ts(5*time.Minute), ts(2*time.Hour), ts(2*time.Hour+time.Second), user, ts(2*time.Hour+2*time.Second), user),
		"vobd.log": fmt.Sprintf("%s: [UserLevelCorrelator] 12345678us: [esx.audit.ssh.enabled] SSH access has been enabled.\n%s: [UserLevelCorrelator] 12345999us: [esx.audit.ssh.session.opened] SSH session was opened for '%s@192.168.50.20'.\n",
			ts(time.Hour), ts(2*time.Hour+2*time.Second), user),
		"syslog.log":     fmt.Sprintf("%s vmsyslogd[2098200]: started\n%s crond[2098377]: crond: USER root pid 2099700 cmd /sbin/auto-backup.sh\n", ts(time.Minute), ts(time.Hour+time.Minute)),
		"vmkwarning.log": fmt.Sprintf("%s cpu0:2097152)WARNING: NFS: 1200: Unable to resolve hostname 'old-backup'\n", ts(3*time.Minute)),
	}
	for name, text := range runLogs {
		h.put("/var/run/log/"+name, 0o644, boot, []byte(text))
		h.fs.put("/var/log/"+name, &node{mode: fs.ModeSymlink | 0o777, mtime: boot, target: "/var/run/log/" + name})
	}
	h.put("/scratch/log/vmksummary.log", 0o644, boot, []byte(fmt.Sprintf("%s bootstop: Host has booted\n%s heartbeat: up 1h0m0s, 2 VMs; [[2100080 vmx 8388608kB]] []\n", ts(0), ts(time.Hour))))
	h.fs.put("/var/log/vmksummary.log", &node{mode: fs.ModeSymlink | 0o777, mtime: boot, target: "/scratch/log/vmksummary.log"})
}

const localSh = `#!/bin/sh ++group=host/vim/vmvisor/boot

# local configuration options

# Note: modify at your own risk!  If you do/use anything in this
# script that is not part of a stable API (relying on files to be in
# specific places, specific tools, specific output, etc) there is a
# possibility you will end up with a broken system after patching or
# upgrading.  Changes are not supported unless under direction of
# VMware support.

# Note: This script will not be run when UEFI secure boot is enabled.

exit 0
`

const sshdConfig = `# running from inetd
# Port 22
Protocol 2
HostKey /etc/ssh/ssh_host_rsa_key
HostKey /etc/ssh/ssh_host_ecdsa_key
HostKey /etc/ssh/ssh_host_ed25519_key
UsePrivilegeSeparation no
SyslogFacility auth
LogLevel info
PermitRootLogin yes
PrintMotd yes
PrintLastLog no
TCPKeepAlive yes
X11Forwarding no
Ciphers aes256-gcm@openssh.com,aes128-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr
MACs hmac-sha2-256,hmac-sha2-512
UseDNS no
AuthorizedKeysFile /etc/ssh/keys-%u/authorized_keys
`

const crontab = `#min hour day mon dow command
1    1    *   *   *   /sbin/tmpwatch.py
1    *    *   *   *   /sbin/auto-backup.sh ++group=host/vim/vmvisor/backup.sh
0    *    *   *   *   /usr/lib/vmware/vmksummary/log-heartbeat.py
*/5  *    *   *   *   /bin/hostd-probe.sh ++group=host/vim/vmvisor/hostd-probe/stats/sh
00   1    *   *   *   localcli storage core device purge
`
