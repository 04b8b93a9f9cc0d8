package esxsim

// commandNames lists the programs command knows, for /bin and /sbin.
var commandNames = []string{"vim-cmd", "esxcli", "esxcfg-nas", "vmkfstools", "vmware", "lsusb", "uname", "hostname", "date", "whoami", "ls", "find", "cat", "stat", "dd", "md5sum", "sha1sum", "sha256sum", "tee", "head", "tail", "wc", "grep", "mkdir", "mkfifo", "ps", "lsof", "readlink", "uptime", "rm", "sleep", "df", "echo", "true", "false"}

// command returns the program named name on the simulated host, nil if
// there is none. A function, not a table filled by init: the table would
// refer to itself through find -exec and the shell, and package state
// should not change after start.
func command(name string) commandFunc {
	switch name {
	case "vim-cmd":
		return cmdVimCmd
	case "esxcli":
		return cmdEsxcli
	case "esxcfg-nas":
		return cmdEsxcfgNas
	case "vmkfstools":
		return cmdVmkfstools
	case "vmware":
		return cmdVmware
	case "lsusb":
		return cmdLsusb
	case "uname":
		return cmdUname
	case "hostname":
		return cmdHostname
	case "date":
		return cmdDate
	case "whoami":
		return cmdWhoami
	case "ls":
		return cmdLs
	case "find":
		return cmdFind
	case "cat":
		return cmdCat
	case "stat":
		return cmdStat
	case "dd":
		return cmdDd
	case "md5sum":
		return cmdMd5sum
	case "sha1sum":
		return cmdSha1sum
	case "sha256sum":
		return cmdSha256sum
	case "tee":
		return cmdTee
	case "head":
		return cmdHead
	case "tail":
		return cmdTail
	case "wc":
		return cmdWc
	case "grep":
		return cmdGrep
	case "mkdir":
		return cmdMkdir
	case "mkfifo":
		return cmdMkfifo
	case "ps":
		return cmdPs
	case "lsof":
		return cmdLsof
	case "readlink":
		return cmdReadlink
	case "uptime":
		return cmdUptime
	case "rm":
		return cmdRm
	case "sleep":
		return cmdSleep
	case "df":
		return cmdDf
	case "echo":
		return cmdEcho
	case "true":
		return func(*env) int { return 0 }
	case "false":
		return func(*env) int { return 1 }
	}
	// echo, test, [, printf, true, false, cd, pwd are shell builtins;
	// echo, true and false above let them be run by path (/bin/echo) too.
	return nil
}

func cmdEcho(e *env) int {
	args := e.args[1:]
	nl := true
	if len(args) > 0 && args[0] == "-n" {
		nl, args = false, args[1:]
	}
	s := ""
	for i, a := range args {
		if i > 0 {
			s += " "
		}
		s += a
	}
	if nl {
		s += "\n"
	}
	e.stdout.Write([]byte(s))
	return 0
}
