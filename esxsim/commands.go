package esxsim

func init() {
	commands = map[string]commandFunc{
		"vim-cmd":    cmdVimCmd,
		"esxcli":     cmdEsxcli,
		"esxcfg-nas": cmdEsxcfgNas,
		"vmkfstools": cmdVmkfstools,
		"vmware":     cmdVmware,
		"lsusb":      cmdLsusb,
		"uname":      cmdUname,
		"hostname":   cmdHostname,
		"date":       cmdDate,
		"whoami":     cmdWhoami,
		"ls":         cmdLs,
		"find":       cmdFind,
		"cat":        cmdCat,
		"stat":       cmdStat,
		"dd":         cmdDd,
		"md5sum":     cmdMd5sum,
		"sha1sum":    cmdSha1sum,
		"sha256sum":  cmdSha256sum,
		"tee":        cmdTee,
		"head":       cmdHead,
		"tail":       cmdTail,
		"wc":         cmdWc,
		"grep":       cmdGrep,
		"mkdir":      cmdMkdir,
		"mkfifo":     cmdMkfifo,
		"ps":         cmdPs,
		"lsof":       cmdLsof,
		"readlink":   cmdReadlink,
		"uptime":     cmdUptime,
		"rm":         cmdRm,
		"sleep":      cmdSleep,
		"df":         cmdDf,
		// echo, test, [, printf, true, false, cd, pwd are shell builtins;
		// these entries let them be run by path (/bin/echo) too.
		"echo":  cmdEcho,
		"true":  func(*env) int { return 0 },
		"false": func(*env) int { return 1 },
	}
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
