package esxsim

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"
)

// modeString renders a mode as ls -l does.
func modeString(fi *fileInfo) string {
	m := fi.mode
	b := []byte("----------")
	switch {
	case m.IsDir():
		b[0] = 'd'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m&fs.ModeCharDevice != 0:
		b[0] = 'c'
	case m&fs.ModeDevice != 0:
		b[0] = 'b'
	case m&fs.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&fs.ModeSocket != 0:
		b[0] = 's'
	}
	const rwx = "rwxrwxrwx"
	for i := range 9 {
		if m&(1<<uint(8-i)) != 0 {
			b[1+i] = rwx[i]
		}
	}
	return string(b)
}

// humanSize is busybox's make_human_readable_str(n, 1, 0): plain bytes
// under 1 KiB, else one decimal and a K/M/G/T suffix.
func humanSize(n int64) string {
	if n < 1024 {
		return fmt.Sprint(n)
	}
	f := float64(n)
	for _, u := range []string{"K", "M", "G", "T", "P"} {
		f /= 1024
		if f < 1024 || u == "P" {
			return fmt.Sprintf("%.1f%s", f, u)
		}
	}
	return ""
}

func (e *env) lsDate(t time.Time) string {
	now := e.h.now()
	if t.After(now.Add(time.Hour)) || now.Sub(t) > 182*24*time.Hour {
		return t.Format("Jan _2  2006")
	}
	return t.Format("Jan _2 15:04")
}

func cmdLs(e *env) int {
	var long, all, almost, human, one, dirOnly, numeric, inode bool
	var args []string
	for i, a := range e.args[1:] {
		if a == "--" {
			args = append(args, e.args[i+2:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			for _, c := range a[1:] {
				switch c {
				case 'l':
					long = true
				case 'a':
					all = true
				case 'A':
					almost = true
				case 'h':
					human = true
				case '1':
					one = true
				case 'd':
					dirOnly = true
				case 'n':
					numeric, long = true, true
				case 'i':
					inode = true
				case 'L', 'H', 'F', 'e', 'C', 'x', 't', 'r', 'S', 'R', 'c', 'u', 'G':
				default:
					e.errf("invalid option -- '%c'", c)
					fmt.Fprintln(e.stderr, "BusyBox multi-call binary.\n\nUsage: ls [-1AaCxdLHRFplinshrSXvctu] [-w WIDTH] [FILE]...")
					return 1
				}
			}
			continue
		}
		args = append(args, a)
	}
	_ = numeric
	if len(args) == 0 {
		args = []string{"."}
	}
	code := 0
	var files []*fileInfo
	var fileNames []string
	var dirs []string
	for _, a := range args {
		p := e.abs(a)
		fi, err := e.h.stat(p, !long || strings.HasSuffix(a, "/"))
		if err != nil {
			e.errf("%s: %s", a, strerror(err))
			code = 1
			continue
		}
		if fi.mode&fs.ModeSymlink != 0 && !dirOnly && !long {
			if t, err := e.h.stat(p, true); err == nil {
				fi = t
			}
		}
		if fi.IsDir() && !dirOnly {
			dirs = append(dirs, a)
			continue
		}
		fi.name = a
		files = append(files, fi)
		fileNames = append(fileNames, a)
	}
	w := &lsWriter{e: e, long: long, human: human, one: one, inode: inode}
	w.print(files, false)
	for i, d := range dirs {
		if len(args) > 1 {
			if i > 0 || len(files) > 0 {
				fmt.Fprintln(e.stdout)
			}
			fmt.Fprintf(e.stdout, "%s:\n", d)
		}
		list, err := e.h.readDir(e.abs(d))
		if err != nil {
			e.errf("%s: %s", d, strerror(err))
			code = 1
			continue
		}
		var shown []*fileInfo
		if all {
			dot, _ := e.h.stat(e.abs(d), true)
			dotdot, _ := e.h.stat(path.Dir(e.abs(d)), true)
			if dot != nil && dotdot != nil {
				dot.name, dotdot.name = ".", ".."
				shown = append(shown, dot, dotdot)
			}
		}
		for _, fi := range list {
			if strings.HasPrefix(fi.name, ".") && !all && !almost {
				continue
			}
			shown = append(shown, fi)
		}
		if long {
			var total int64
			for _, fi := range shown {
				total += (fi.size + 1023) / 1024
			}
			if human {
				fmt.Fprintf(e.stdout, "total %s\n", humanSize(total*1024))
			} else {
				fmt.Fprintf(e.stdout, "total %d\n", total)
			}
		}
		w.print(shown, true)
	}
	return code
}

type lsWriter struct {
	e                       *env
	long, human, one, inode bool
}

func (w *lsWriter) print(list []*fileInfo, _ bool) {
	e := w.e
	if len(list) == 0 {
		return
	}
	if !w.long && !w.one && e.s != nil && e.s.pty {
		w.columns(list)
		return
	}
	for _, fi := range list {
		pre := ""
		if w.inode {
			pre = fmt.Sprintf("%7d ", fi.ino)
		}
		if !w.long {
			fmt.Fprintf(e.stdout, "%s%s\n", pre, fi.name)
			continue
		}
		size := fmt.Sprintf("%9d", fi.size)
		if w.human {
			size = fmt.Sprintf("%7s", humanSize(fi.size))
		}
		line := fmt.Sprintf("%s%-10s %4d %-8s %-8s %s %s %s", pre, modeString(fi), max(fi.nlink, 1), "root", "root", size, e.lsDate(fi.mtime), fi.name)
		if fi.mode&fs.ModeSymlink != 0 {
			line += " -> " + fi.target
		}
		fmt.Fprintln(e.stdout, line)
	}
}

func (w *lsWriter) columns(list []*fileInfo) {
	width := 80
	if w.e.s != nil && w.e.s.width > 0 {
		width = w.e.s.width
	}
	maxLen := 0
	for _, fi := range list {
		maxLen = max(maxLen, len(fi.name))
	}
	colW := maxLen + 2
	cols := max(1, width/colW)
	rows := (len(list) + cols - 1) / cols
	for r := range rows {
		var b strings.Builder
		for c := range cols {
			i := c*rows + r
			if i >= len(list) {
				break
			}
			name := list[i].name
			if c < cols-1 && (c+1)*rows+r < len(list) {
				name += strings.Repeat(" ", colW-len(name))
			}
			b.WriteString(name)
		}
		fmt.Fprintln(w.e.stdout, b.String())
	}
}
