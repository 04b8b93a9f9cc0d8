package esxi

import (
	"path"
	"strconv"
	"strings"
	"time"
)

// TriageCommand is one command whose output a host triage keeps: the
// host's own state as an incident responder needs it (accounts, VIBs,
// network, persistence), not the VMs.
type TriageCommand struct {
	// Name is a readable file-name-safe label, e.g. esxcli-software-vib-list.
	Name string
	// Tool is the program that must exist for Line to run; the triage
	// probes for it first and notes a missing one instead of failing.
	Tool string
	// Line is the exact command line run on the host.
	Line string
	// Why says what an examiner reads in the output.
	Why string
}

// csvCmd is esxcli with the one output format that is stable across builds
// and parses without guessing column widths.
func csvCmd(ns string) string { return "esxcli --formatter=csv " + ns }

// TriageCommands lists the commands of a host triage, in the order they
// run. The lines are constants (no user input reaches them); each is
// read-only on the host. The list follows what UAC, ESXiTri and
// easy_triage gather on ESXi (reference/esxi.md §2), minus what needs a
// binary of ours on the host (execInstalledOnly forbids it).
func TriageCommands() []TriageCommand {
	return []TriageCommand{
		{"date-utc", "date", "date -u", "the host clock at collection, to line up its logs with real time"},
		{"cat-etc-vmware-esx.conf", "cat", "cat /etc/vmware/esx.conf", "esx.conf as found: mounting the sink adds its /nas/ lines to the file before the file itself is copied"},
		{"uname-a", "uname", "uname -a", "kernel name, release and build"},
		{"vmware-vl", "vmware", "vmware -vl", "product, version, update level"},
		{"esxcli-system-version-get", "esxcli", csvCmd("system version get"), "version, build, update, patch"},
		{"esxcli-system-hostname-get", "esxcli", csvCmd("system hostname get"), "host and domain names"},
		{"esxcli-system-stats-installtime-get", "esxcli", csvCmd("system stats installtime get"), "when ESXi was installed"},
		{"uptime", "uptime", "uptime", "time since boot (with /var/run/bootTime)"},
		{"esxcli-system-account-list", "esxcli", csvCmd("system account list"), "local accounts: an attacker's added user shows here"},
		{"esxcli-system-permission-list", "esxcli", csvCmd("system permission list"), "who holds which role, e.g. a new Admin"},
		{"esxcli-software-vib-list", "esxcli", csvCmd("software vib list"), "installed VIBs: a malicious VIB (VIRTUALPITA-style persistence) shows with its acceptance level and install date"},
		{"esxcli-software-acceptance-get", "esxcli", "esxcli software acceptance get", "the host's VIB acceptance level: CommunitySupported lets unsigned VIBs in"},
		{"esxcli-system-settings-advanced-list", "esxcli", csvCmd("system settings advanced list"), "every advanced option, including UserVars.ESXiShellTimeOut and Syslog settings"},
		{"esxcli-system-settings-kernel-list-execInstalledOnly", "esxcli", "esxcli system settings kernel list -o execInstalledOnly", "whether the host runs only installed (VIB) binaries: off means dropped binaries can run"},
		{"esxcli-system-syslog-config-get", "esxcli", csvCmd("system syslog config get"), "where the host logs, and whether a remote syslog still gets them"},
		{"esxcli-system-module-list", "esxcli", csvCmd("system module list"), "loaded VMkernel modules: an unknown driver is a rootkit candidate"},
		{"esxcli-network-ip-interface-list", "esxcli", csvCmd("network ip interface list"), "VMkernel interfaces"},
		{"esxcli-network-ip-interface-ipv4-get", "esxcli", csvCmd("network ip interface ipv4 get"), "their IPv4 addresses"},
		{"esxcli-network-ip-connection-list", "esxcli", csvCmd("network ip connection list"), "open connections and listeners with their worlds: a backdoor listener or C2 session"},
		{"esxcli-network-ip-neighbor-list", "esxcli", csvCmd("network ip neighbor list"), "the ARP cache: recent peers on the management network"},
		{"esxcli-network-firewall-get", "esxcli", csvCmd("network firewall get"), "whether the firewall is on and its default action"},
		{"esxcli-network-firewall-ruleset-list", "esxcli", csvCmd("network firewall ruleset list"), "enabled rulesets, e.g. sshServer opened by an attacker"},
		{"esxcli-network-firewall-ruleset-allowedip-list", "esxcli", csvCmd("network firewall ruleset allowedip list"), "address restrictions per ruleset"},
		{"esxcli-network-vm-list", "esxcli", csvCmd("network vm list"), "VMs and their port groups"},
		{"ps-c", "ps", "ps -c", "running processes with command lines (UAC hashes the binaries it lists)"},
		{"ps-Tcjstv", "ps", "ps -Tcjstv", "processes with threads, cartels and states, as easy_triage keeps it"},
		{"lsof", "lsof", "lsof", "open files and sockets per process"},
		{"esxcli-storage-filesystem-list", "esxcli", csvCmd("storage filesystem list"), "mounted volumes"},
		{"esxcli-storage-nfs-list", "esxcli", csvCmd("storage nfs list"), "NFS datastores: one an attacker mounted to stage data"},
		{"esxcli-storage-core-device-list", "esxcli", csvCmd("storage core device list"), "storage devices"},
		{"esxcli-storage-vmfs-extent-list", "esxcli", csvCmd("storage vmfs extent list"), "which device holds which datastore"},
		{"df-h", "df", "df -h", "free space per volume"},
		{"vim-cmd-vmsvc-getallvms", "vim-cmd", "vim-cmd vmsvc/getallvms", "registered VMs"},
		{"esxcli-vm-process-list", "esxcli", csvCmd("vm process list"), "running VMs and their worlds (a VM killed by ransomware is missing here)"},
		{"ls-la-tmp", "ls", "ls -la /tmp /var/tmp", "dropped tools and ransomware notes often land in the tmp folders (listing only: our own FIFOs live there)"},
		{"ls-la-var-core", "ls", "ls -la /var/core", "core dumps (listed, not copied: they can be large)"},
	}
}

// TriagePath is a file or folder a host triage copies.
type TriagePath struct {
	Path string
	// Live marks logs and histories the host may append to while they are
	// copied.
	Live bool
}

// TriagePaths are the host's own files worth copying: its logs, its
// configuration (rc.local.d/local.sh, ssh keys and config, passwd and
// shadow, esx.conf), root's crontab and shell history. A path the host
// lacks is noted, not an error (/scratch/log is missing on hosts without
// scratch).
func TriagePaths() []TriagePath {
	return []TriagePath{
		{"/var/log", true},
		{"/var/run/log", true},
		{"/scratch/log", true},
		{"/etc", false},
		// Mounting the sink rewrites esx.conf: its copy is of a moving
		// file (the command output cat-etc-vmware-esx.conf has it as found).
		{"/etc/vmware/esx.conf", true},
		{"/usr/local/etc", false},
		{"/var/spool/cron/crontabs", false},
		{"/var/run/bootTime", false},
		{"/.ash_history", true},
	}
}

// CmdListTree lists every regular file and symbolic link under each root
// (a root may itself be a file), with sizes, for a triage copy. Records
// end in NUL bytes, the one byte no path holds:
//
//	M NUL ROOT NUL                   the root does not exist
//	F SIZE MTIME NUL PATH NUL        a regular file
//	L SIZE MTIME NUL PATH NUL TARGET NUL   a link; SIZE is its target's (-1: dangling)
//
// busybox find on ESXi may lack -print0, so find's lines go through
// read: a path with a newline breaks into pieces that fail stat and are
// left out (a loss the examiner can see by comparing with the find output
// in the custody log's command record, not a wrong file). A root that is a
// folder is given with a trailing "/" so a root that is itself a link (as
// /scratch is, to the scratch datastore) is followed. Parse with
// [ParseTreeListing].
func CmdListTree(roots []string) (string, error) {
	var qs []string
	for _, r := range roots {
		q, err := quotePath("list tree", "root", r)
		if err != nil {
			return "", err
		}
		qs = append(qs, q)
	}
	if len(qs) == 0 {
		return "", argErr("list tree", "roots", "", "are none")
	}
	return "for r in " + strings.Join(qs, " ") + `; do ` +
		`if [ ! -e "$r" ] && [ ! -h "$r" ]; then printf 'M\0%s\0' "$r"; continue; fi; ` +
		`d="$r"; [ -d "$r" ] && d="$r/"; ` +
		`find "$d" -type f -o -type l | while IFS= read -r f; do ` +
		`if [ -h "$f" ]; then s=$(stat -L -c '%s %Y' "$f" 2>/dev/null) || s='-1 0'; ` +
		`printf 'L %s\0%s\0%s\0' "$s" "$f" "$(readlink "$f")"; ` +
		`else s=$(stat -c '%s %Y' "$f") || continue; printf 'F %s\0%s\0' "$s" "$f"; fi; ` +
		`done; done; true`, nil
}

// TreeEntry is one record of [CmdListTree]'s output.
type TreeEntry struct {
	// Kind is 'F' (a regular file), 'L' (a symbolic link) or 'M' (a
	// missing root).
	Kind  byte
	Path  string // cleaned absolute path
	Size  int64  // for a link, its target's size; -1 when it dangles
	Mtime time.Time
	// Target is a link's text as readlink printed it; Resolved is that
	// target as an absolute cleaned path.
	Target, Resolved string
}

// ParseTreeListing parses [CmdListTree]'s output.
func ParseTreeListing(out string) ([]TreeEntry, error) {
	const src = "tree listing"
	if out == "" {
		return nil, nil
	}
	if !strings.HasSuffix(out, "\x00") {
		return nil, parseErr(src, 0, "output does not end with a NUL byte: it was cut short")
	}
	tok := strings.Split(strings.TrimSuffix(out, "\x00"), "\x00")
	var entries []TreeEntry
	for i := 0; i < len(tok); {
		head := tok[i]
		n := len(entries) + 1
		need := map[byte]int{'M': 2, 'F': 2, 'L': 3}[firstByte(head)]
		if need == 0 || i+need > len(tok) {
			return nil, parseErr(src, 0, "record %d %q is not M, F or L with its fields", n, clip(head))
		}
		e := TreeEntry{Kind: head[0], Path: tok[i+1]}
		if !strings.HasPrefix(e.Path, "/") {
			return nil, parseErr(src, 0, "record %d path %q is not absolute", n, clip(e.Path))
		}
		e.Path = path.Clean(e.Path)
		if e.Kind != 'M' {
			f := strings.Fields(head[1:])
			if len(f) != 2 {
				return nil, parseErr(src, 0, "record %d %q is not KIND SIZE MTIME", n, clip(head))
			}
			size, err1 := strconv.ParseInt(f[0], 10, 64)
			mt, err2 := strconv.ParseInt(f[1], 10, 64)
			if err1 != nil || err2 != nil || size < -1 || (size < 0 && e.Kind == 'F') {
				return nil, parseErr(src, 0, "record %d %q has a malformed number", n, clip(head))
			}
			e.Size, e.Mtime = size, time.Unix(mt, 0).UTC()
		} else if len(head) != 1 {
			return nil, parseErr(src, 0, "record %d %q is not M", n, clip(head))
		}
		if e.Kind == 'L' {
			e.Target = tok[i+2]
			if e.Target == "" {
				return nil, parseErr(src, 0, "record %d: link %q has an empty target", n, clip(e.Path))
			}
			e.Resolved = e.Target
			if !path.IsAbs(e.Target) {
				e.Resolved = path.Join(path.Dir(e.Path), e.Target)
			}
			e.Resolved = path.Clean(e.Resolved)
		}
		entries = append(entries, e)
		i += need
	}
	return entries, nil
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}
