package esxsim

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"
)

func cmdCat(e *env) int {
	files := e.args[1:]
	if len(files) == 0 {
		files = []string{"-"}
	}
	code := 0
	for _, f := range files {
		if f == "-" {
			if _, err := copyCtx(e.ctx, e.stdout, e.stdin); err != nil {
				return pipeStatus(err)
			}
			continue
		}
		r, err := e.h.openFile(e.abs(f), 0, 0)
		if err != nil {
			e.errf("can't open '%s': %s", f, strerror(err))
			code = 1
			continue
		}
		_, err = copyCtx(e.ctx, e.stdout, r)
		r.Close()
		if err != nil {
			if st := pipeStatus(err); st != 1 {
				return st
			}
			e.errf("read error: %s", strerror(err))
			code = 1
		}
	}
	return code
}

func cmdMkdir(e *env) int {
	parents := false
	code := 0
	var dirs []string
	for _, a := range e.args[1:] {
		if a == "-p" {
			parents = true
			continue
		}
		if strings.HasPrefix(a, "-m") {
			continue
		}
		dirs = append(dirs, a)
	}
	if len(dirs) == 0 {
		fmt.Fprintln(e.stderr, "BusyBox multi-call binary.\n\nUsage: mkdir [-m MODE] [-p] DIRECTORY...")
		return 1
	}
	for _, d := range dirs {
		p := e.abs(d)
		if parents {
			comps := splitAll(p)
			for i := range comps {
				sub := "/" + strings.Join(comps[:i+1], "/")
				if fi, err := e.h.stat(sub, true); err == nil {
					if !fi.IsDir() {
						e.errf("can't create directory '%s': File exists", d)
						code = 1
						break
					}
					continue
				}
				if err := e.h.mkdir(sub); err != nil {
					e.errf("can't create directory '%s': %s", d, strerror(err))
					code = 1
					break
				}
			}
			continue
		}
		if err := e.h.mkdir(p); err != nil {
			e.errf("can't create directory '%s': %s", d, strerror(err))
			code = 1
		}
	}
	return code
}

func cmdRm(e *env) int {
	force, recursive := false, false
	var files []string
	for _, a := range e.args[1:] {
		if len(a) > 1 && a[0] == '-' && files == nil {
			for _, c := range a[1:] {
				switch c {
				case 'f':
					force = true
				case 'r', 'R':
					recursive = true
				case 'i':
				}
			}
			continue
		}
		files = append(files, a)
	}
	code := 0
	var rm func(p, shown string) bool
	rm = func(p, shown string) bool {
		fi, err := e.h.stat(p, false)
		if err != nil {
			if !force {
				e.errf("can't remove '%s': %s", shown, strerror(err))
				return false
			}
			return true
		}
		if fi.IsDir() {
			if !recursive {
				e.errf("'%s' is a directory", shown)
				return false
			}
			list, err := e.h.readDir(p)
			if err != nil {
				e.errf("can't remove '%s': %s", shown, strerror(err))
				return false
			}
			ok := true
			for _, c := range list {
				ok = rm(path.Join(p, c.name), path.Join(shown, c.name)) && ok
			}
			if !ok {
				return false
			}
		}
		if err := e.h.remove(p); err != nil {
			e.errf("can't remove '%s': %s", shown, strerror(err))
			return false
		}
		return true
	}
	if len(files) == 0 && !force {
		fmt.Fprintln(e.stderr, "BusyBox multi-call binary.\n\nUsage: rm [-irf] FILE...")
		return 1
	}
	for _, f := range files {
		if !rm(e.abs(f), f) {
			code = 1
		}
	}
	return code
}

// cmdStat is busybox stat, with -c FORMAT and -L.
func cmdStat(e *env) int {
	format, follow := "", false
	var files []string
	args := e.args[1:]
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-c" && i+1 < len(args):
			format = args[i+1]
			i++
		case strings.HasPrefix(a, "--format="):
			format = strings.TrimPrefix(a, "--format=")
		case strings.HasPrefix(a, "-c"):
			format = a[2:]
		case a == "-L":
			follow = true
		case a == "-t", a == "-f":
		default:
			files = append(files, a)
		}
	}
	if len(files) == 0 {
		fmt.Fprintln(e.stderr, "BusyBox multi-call binary.\n\nUsage: stat [-ltf] [-c FMT] FILE...")
		return 1
	}
	code := 0
	for _, f := range files {
		fi, err := e.h.stat(e.abs(f), follow)
		if err != nil {
			e.errf("can't stat '%s': %s", f, strerror(err))
			code = 1
			continue
		}
		if format != "" {
			fmt.Fprintln(e.stdout, statFormat(format, f, fi))
			continue
		}
		kind := fileKind(fi)
		name := f
		if fi.mode&fs.ModeSymlink != 0 {
			name = fmt.Sprintf("'%s' -> '%s'", f, fi.target)
		}
		ts := fi.mtime.UTC().Format("2006-01-02 15:04:05.000000000 -0700")
		fmt.Fprintf(e.stdout, "  File: %s\n  Size: %-10d\tBlocks: %-10d IO Block: 4096   %s\nDevice: %xh/%dd\tInode: %-11d Links: %d\nAccess: (%04o/%s)  Uid: (    0/    root)   Gid: (    0/    root)\nAccess: %s\nModify: %s\nChange: %s\n",
			name, fi.size, (fi.size+511)/512, kind, 0x10, 16, fi.ino, max(fi.nlink, 1), fi.mode.Perm(), modeString(fi), ts, ts, ts)
	}
	return code
}

func statFormat(format, name string, fi *fileInfo) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c == '\\' && i+1 < len(format) && format[i+1] == 'n' {
			b.WriteByte('\n')
			i++
			continue
		}
		if c != '%' || i+1 >= len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 's':
			fmt.Fprint(&b, fi.size)
		case 'n':
			b.WriteString(name)
		case 'N':
			fmt.Fprintf(&b, "'%s'", name)
		case 'a':
			fmt.Fprintf(&b, "%o", fi.mode.Perm())
		case 'A':
			b.WriteString(modeString(fi))
		case 'F':
			b.WriteString(fileKind(fi))
		case 'f':
			fmt.Fprintf(&b, "%x", rawMode(fi.mode))
		case 'o':
			b.WriteString("4096")
		case 'd':
			b.WriteString("16")
		case 'D':
			b.WriteString("10")
		case 't', 'T':
			b.WriteString("0")
		case 'Y', 'Z', 'X':
			fmt.Fprint(&b, fi.mtime.Unix())
		case 'y', 'z', 'x':
			b.WriteString(fi.mtime.UTC().Format("2006-01-02 15:04:05.000000000 -0700"))
		case 'i':
			fmt.Fprint(&b, fi.ino)
		case 'h':
			fmt.Fprint(&b, max(fi.nlink, 1))
		case 'b':
			fmt.Fprint(&b, (fi.size+511)/512)
		case 'B':
			b.WriteString("512")
		case 'u', 'g':
			b.WriteString("0")
		case 'U', 'G':
			b.WriteString("root")
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// cmdDf is ESXi's df: file system type, bytes, mount point by name.
func cmdDf(e *env) int {
	human, kb := false, false
	for _, a := range e.args[1:] {
		switch a {
		case "-h":
			human = true
		case "-k":
			kb = true
		}
	}
	rows := [][]string{}
	unit := "Bytes"
	if human {
		unit = "Size"
	} else if kb {
		unit = "1K-blocks"
	}
	num := func(n int64) string {
		switch {
		case human:
			return humanSize(n)
		case kb:
			return fmt.Sprint(n / 1024)
		}
		return fmt.Sprint(n)
	}
	for _, v := range e.h.volumes(e.ctx) {
		used := v.size - v.free
		pct := 0
		if v.size > 0 {
			pct = int((used*100 + v.size - 1) / v.size)
		}
		mp := v.mountPoint()
		if v.name != "" {
			mp = "/vmfs/volumes/" + v.name
		}
		rows = append(rows, []string{v.typ, num(v.size), num(used), num(v.free), fmt.Sprintf("%d%%", pct), mp})
	}
	hdr := []string{"Filesystem", unit, "Used", "Available", "Use%", "Mounted on"}
	widths := make([]int, len(hdr))
	for i, h := range hdr {
		widths[i] = len(h)
		for _, r := range rows {
			widths[i] = max(widths[i], len(r[i]))
		}
	}
	line := func(r []string) string {
		return fmt.Sprintf("%-*s %*s %*s %*s %*s %s", widths[0], r[0], widths[1], r[1], widths[2], r[2], widths[3], r[3], widths[4], r[4], r[5])
	}
	fmt.Fprintln(e.stdout, line(hdr))
	for _, r := range rows {
		fmt.Fprintln(e.stdout, line(r))
	}
	return 0
}

func cmdSleep(e *env) int {
	if len(e.args) < 2 {
		fmt.Fprintln(e.stderr, "BusyBox multi-call binary.\n\nUsage: sleep [N]...")
		return 1
	}
	var total time.Duration
	for _, a := range e.args[1:] {
		d, err := time.ParseDuration(a + "s")
		if strings.ContainsAny(a, "smhd") {
			d, err = time.ParseDuration(a)
		}
		if err != nil {
			e.errf("invalid number '%s'", a)
			return 1
		}
		total += d
	}
	t := time.NewTimer(total)
	defer t.Stop()
	select {
	case <-t.C:
		return 0
	case <-e.ctx.Done():
		return 130
	}
}
