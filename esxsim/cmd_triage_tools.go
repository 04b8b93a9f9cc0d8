package esxsim

import (
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// world is one row of the simulated process table.
type world struct {
	wid, cid int64
	name     string
	cmd      string
}

// worlds is the host's process table: the usual daemons, a vmx per
// running VM and the caller's own shell.
func (e *env) worlds() []world {
	ws := []world{
		{2097152, 0, "init", "/bin/init"},
		{2098200, 2098200, "vmsyslogd", "/bin/python -OOR /usr/lib/vmware/vmsyslog/bin/vmsyslogd.pyc"},
		{2098611, 2098611, "vobd", "/usr/lib/vmware/vob/bin/vobd"},
		{2098880, 2098880, "busybox", "/usr/lib/vmware/openssh/bin/sshd -i"},
		{2099001, 2099001, "hostd", "hostd /etc/vmware/hostd/config.xml"},
		{2099120, 2099120, "slpd", "/sbin/slpd"},
		{2099431, 2099431, "rhttpproxy", "rhttpproxy -r /etc/vmware/rhttpproxy/config.xml"},
		{2099512, 2099512, "vpxa", "/usr/lib/vmware/vpxa/bin/vpxa -o /etc/vmware/vpxa/vpxa.cfg"},
	}
	e.h.mu.Lock()
	for _, v := range e.h.vms {
		if v.id == 0 || v.power != "on" {
			continue
		}
		w := int64(2100000 + v.id*4117)
		ws = append(ws, world{w - 3, w - 3, "vmx", "/bin/vmx -s vmx.stdio.keep=TRUE -# product=2;name=VMware ESXi; " + v.vmxAbs()},
			world{w, w - 3, "vmx-vcpu-0:" + v.spec.Name, ""})
	}
	e.h.mu.Unlock()
	ws = append(ws, world{2100000 + e.s.id, 2100000 + e.s.id, "sh", "/bin/sh -c " + strings.Join(e.args, " ")})
	return ws
}

// cmdPs is ESXi's ps: worlds and cartels; -c adds the command line.
func cmdPs(e *env) int {
	flags := ""
	for _, a := range e.args[1:] {
		if !strings.HasPrefix(a, "-") {
			e.errf("invalid argument '%s'", a)
			return 1
		}
		flags += a[1:]
	}
	long := strings.ContainsAny(flags, "jstv")
	if long {
		fmt.Fprintf(e.stdout, "%-8s %-8s %-8s %-8s %-5s %-8s %-40s %s\n", "WID", "CID", "LWID", "GID", "State", "Type", "World Name", "Command")
	} else {
		fmt.Fprintf(e.stdout, "%-8s %-8s %-40s %s\n", "WID", "CID", "World Name", "Command")
	}
	for _, w := range e.worlds() {
		cmd := ""
		if strings.Contains(flags, "c") {
			cmd = w.cmd
		}
		if long {
			fmt.Fprintf(e.stdout, "%-8d %-8d %-8d %-8d %-5s %-8s %-40s %s\n", w.wid, w.cid, w.wid, w.cid, "WAIT", "USER", w.name, cmd)
		} else {
			fmt.Fprintf(e.stdout, "%-8d %-8d %-40s %s\n", w.wid, w.cid, w.name, cmd)
		}
	}
	return 0
}

// cmdLsof is ESXi's lsof: open files per cartel.
func cmdLsof(e *env) int {
	fmt.Fprintf(e.stdout, "%-9s %-20s %-9s %-9s %s\n", "Cartel", "World name", "Type", "fd", "Description")
	for _, w := range e.worlds() {
		if w.cmd == "" {
			continue
		}
		fmt.Fprintf(e.stdout, "%-9d %-20s %-9s %-9d %s\n", w.cid, w.name, "CHAR", 0, "/dev/null")
		if w.name == "hostd" || w.name == "vmsyslogd" {
			fmt.Fprintf(e.stdout, "%-9d %-20s %-9s %-9d %s\n", w.cid, w.name, "REG", 3, "/var/run/log/"+w.name+".log")
		}
		if w.name == "busybox" || w.name == "rhttpproxy" {
			fmt.Fprintf(e.stdout, "%-9d %-20s %-9s %-9d %s\n", w.cid, w.name, "SOCKET", 4, "")
		}
	}
	return 0
}

// cmdReadlink prints a symbolic link's target (busybox readlink, without
// -f).
func cmdReadlink(e *env) int {
	var names []string
	for _, a := range e.args[1:] {
		if strings.HasPrefix(a, "-") && a != "-" {
			continue // -n, -v: nothing to change here
		}
		names = append(names, a)
	}
	if len(names) != 1 {
		fmt.Fprintln(e.stderr, "BusyBox multi-call binary.\n\nUsage: readlink [-fnv] FILE")
		return 1
	}
	fi, err := e.h.stat(e.abs(names[0]), false)
	if err != nil || fi.mode&fs.ModeSymlink == 0 {
		return 1
	}
	fmt.Fprintln(e.stdout, fi.target)
	return 0
}

// cmdUptime is busybox uptime, counted from the boot the scenario implies.
func cmdUptime(e *env) int {
	now := e.h.now().UTC()
	boot := e.h.sc.Start.Add(-72 * time.Hour)
	up := now.Sub(boot)
	days := int(up.Hours()) / 24
	fmt.Fprintf(e.stdout, " %s up %d days, %2d:%02d,  load average: 0.04, 0.06, 0.05\n", now.Format("15:04:05"), days, int(up.Hours())%24, int(up.Minutes())%60)
	return 0
}
