package esxsim

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// copyCtx copies until EOF, an error or the context's end.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, rerr := r.Read(buf)
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// pipeStatus is a command's status after a write error: killed by
// SIGPIPE (128+13) when the reader went away, else 1.
func pipeStatus(err error) int {
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, os.ErrClosed) {
		return 141
	}
	if errors.Is(err, context.Canceled) {
		return 130
	}
	return 1
}

// openInput opens a named input or stdin for "-".
func (e *env) openInput(name string) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(e.stdin), nil
	}
	f, err := e.h.openFile(e.abs(name), os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func hashCommand(newHash func() hash.Hash) commandFunc {
	return func(e *env) int {
		var files []string
		check := false
		for _, a := range e.args[1:] {
			switch a {
			case "-b", "-t":
				continue
			case "-c":
				check = true
				continue
			}
			files = append(files, a)
		}
		if len(files) == 0 {
			files = []string{"-"}
		}
		if check {
			return hashCheck(e, newHash, files)
		}
		code := 0
		for _, f := range files {
			r, err := e.openInput(f)
			if err != nil {
				e.errf("can't open '%s': %s", f, strerror(err))
				code = 1
				continue
			}
			h := newHash()
			_, err = copyCtx(e.ctx, h, r)
			r.Close()
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return 130
				}
				e.errf("%s: %s", f, strerror(err))
				code = 1
				continue
			}
			if _, err := fmt.Fprintf(e.stdout, "%x  %s\n", h.Sum(nil), f); err != nil {
				return pipeStatus(err)
			}
		}
		return code
	}
}

func hashCheck(e *env, newHash func() hash.Hash, files []string) int {
	code := 0
	for _, f := range files {
		r, err := e.openInput(f)
		if err != nil {
			e.errf("can't open '%s': %s", f, strerror(err))
			code = 1
			continue
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			want, name, ok := strings.Cut(sc.Text(), "  ")
			if !ok {
				continue
			}
			in, err := e.openInput(name)
			if err != nil {
				e.errf("can't open '%s': %s", name, strerror(err))
				fmt.Fprintf(e.stdout, "%s: FAILED open or read\n", name)
				code = 1
				continue
			}
			h := newHash()
			copyCtx(e.ctx, h, in)
			in.Close()
			if fmt.Sprintf("%x", h.Sum(nil)) == want {
				fmt.Fprintf(e.stdout, "%s: OK\n", name)
			} else {
				fmt.Fprintf(e.stdout, "%s: FAILED\n", name)
				code = 1
			}
		}
		r.Close()
	}
	return code
}

func cmdTee(e *env) int {
	appendMode := false
	var names []string
	for _, a := range e.args[1:] {
		if a == "-a" {
			appendMode = true
			continue
		}
		if a == "-i" {
			continue
		}
		names = append(names, a)
	}
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendMode {
		flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	type out struct {
		name string
		f    *file
		bad  bool
	}
	var outs []*out
	code := 0
	for _, n := range names {
		f, err := e.h.openFile(e.abs(n), flag, 0o644)
		if err != nil {
			e.errf("%s: %s", n, strerror(err))
			code = 1
			continue
		}
		outs = append(outs, &out{name: n, f: f})
	}
	buf := make([]byte, 256<<10)
	stdoutOK := true
	for {
		if e.ctx.Err() != nil {
			code = 130
			break
		}
		k, rerr := e.stdin.Read(buf)
		if k > 0 {
			for _, o := range outs {
				if !o.bad {
					if _, err := o.f.Write(buf[:k]); err != nil {
						o.bad = true
					}
				}
			}
			if stdoutOK {
				if _, err := e.stdout.Write(buf[:k]); err != nil {
					stdoutOK = false
					if st := pipeStatus(err); st == 141 {
						code = 141
						break
					}
				}
			}
		}
		if rerr != nil {
			break
		}
	}
	for _, o := range outs {
		if err := o.f.Close(); err != nil {
			o.bad = true
		}
		if o.bad {
			e.errf("%s: I/O error", o.name)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// countArgs reads head's and tail's options: -n N, -c N, -nN, -cN, -N.
func countArgs(e *env) (lines, bytes int64, files []string, ok bool) {
	lines, bytes = 10, -1
	args := e.args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "-n" || a == "-c") && i+1 < len(args):
			var v int64
			if _, err := fmt.Sscan(args[i+1], &v); err != nil {
				e.errf("invalid number '%s'", args[i+1])
				return 0, 0, nil, false
			}
			if a == "-n" {
				lines = v
			} else {
				bytes = v
			}
			i++
		case strings.HasPrefix(a, "-n") && len(a) > 2:
			fmt.Sscan(a[2:], &lines)
		case strings.HasPrefix(a, "-c") && len(a) > 2:
			fmt.Sscan(a[2:], &bytes)
		case len(a) > 1 && a[0] == '-' && a[1] >= '0' && a[1] <= '9':
			fmt.Sscan(a[1:], &lines)
		default:
			files = append(files, a)
		}
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	return lines, bytes, files, true
}

// eachInput runs fn on every input file with busybox's "==> F <==" headers
// between several, and returns the exit status.
func eachInput(e *env, files []string, fn func(r io.Reader) error) int {
	code := 0
	for i, f := range files {
		r, err := e.openInput(f)
		if err != nil {
			e.errf("%s: %s", f, strerror(err))
			code = 1
			continue
		}
		if len(files) > 1 {
			if i > 0 {
				fmt.Fprintln(e.stdout)
			}
			fmt.Fprintf(e.stdout, "==> %s <==\n", f)
		}
		err = fn(r)
		r.Close()
		if err != nil {
			return pipeStatus(err)
		}
	}
	return code
}

func cmdHead(e *env) int {
	lines, bytes, files, ok := countArgs(e)
	if !ok {
		return 1
	}
	return eachInput(e, files, func(r io.Reader) error {
		if bytes >= 0 {
			_, err := copyCtx(e.ctx, e.stdout, io.LimitReader(r, bytes))
			return err
		}
		br := bufio.NewReader(r)
		for n := int64(0); n < lines; n++ {
			line, rerr := br.ReadString('\n')
			if line != "" {
				if _, werr := io.WriteString(e.stdout, line); werr != nil {
					return werr
				}
			}
			if rerr != nil {
				break
			}
		}
		return nil
	})
}

// cmdTail prints the last lines (or bytes) of each input, keeping only
// those in memory: the input is read to its end once.
func cmdTail(e *env) int {
	lines, bytes, files, ok := countArgs(e)
	if !ok {
		return 1
	}
	return eachInput(e, files, func(r io.Reader) error {
		if bytes >= 0 {
			keep := make([]byte, 0, min(bytes, 1<<20))
			buf := make([]byte, 64<<10)
			for {
				n, err := r.Read(buf)
				keep = append(keep, buf[:n]...)
				if int64(len(keep)) > bytes {
					keep = append(keep[:0], keep[int64(len(keep))-bytes:]...)
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
			}
			_, err := e.stdout.Write(keep)
			return err
		}
		var last []string
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				last = append(last, line)
				if int64(len(last)) > lines {
					last = last[1:]
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		_, err := io.WriteString(e.stdout, strings.Join(last, ""))
		return err
	})
}

func cmdWc(e *env) int {
	var doL, doW, doC bool
	var files []string
	for _, a := range e.args[1:] {
		if len(a) > 1 && a[0] == '-' {
			for _, c := range a[1:] {
				switch c {
				case 'l':
					doL = true
				case 'w':
					doW = true
				case 'c', 'm':
					doC = true
				}
			}
			continue
		}
		files = append(files, a)
	}
	if !doL && !doW && !doC {
		doL, doW, doC = true, true, true
	}
	stdin := len(files) == 0
	if stdin {
		files = []string{"-"}
	}
	ncount := 0
	for _, b := range []bool{doL, doW, doC} {
		if b {
			ncount++
		}
	}
	var tl, tw, tc int64
	code := 0
	print := func(l, w, c int64, name string) {
		var parts []string
		pad := ncount > 1 || len(files) > 1
		for i, v := range []int64{l, w, c} {
			if ![]bool{doL, doW, doC}[i] {
				continue
			}
			if pad {
				parts = append(parts, fmt.Sprintf("%9d", v))
			} else {
				parts = append(parts, fmt.Sprint(v))
			}
		}
		s := strings.Join(parts, " ")
		if name != "-" || !stdin {
			s += " " + name
		}
		fmt.Fprintln(e.stdout, s)
	}
	for _, f := range files {
		r, err := e.openInput(f)
		if err != nil {
			e.errf("%s: %s", f, strerror(err))
			code = 1
			continue
		}
		var l, w, c int64
		inWord := false
		buf := make([]byte, 256<<10)
		for {
			k, rerr := r.Read(buf)
			for _, b := range buf[:k] {
				c++
				if b == '\n' {
					l++
				}
				space := b == ' ' || b == '\n' || b == '\t' || b == '\r' || b == '\v' || b == '\f'
				if !space && !inWord {
					w++
				}
				inWord = !space
			}
			if rerr != nil {
				break
			}
		}
		r.Close()
		tl, tw, tc = tl+l, tw+w, tc+c
		print(l, w, c, f)
	}
	if len(files) > 1 {
		print(tl, tw, tc, "total")
	}
	return code
}

// bre2ere turns a basic regular expression into Go's syntax.
func bre2ere(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\\' && i+1 < len(p) {
			n := p[i+1]
			if strings.IndexByte("(){}|+?", n) >= 0 {
				b.WriteByte(n)
			} else {
				b.WriteByte('\\')
				b.WriteByte(n)
			}
			i++
			continue
		}
		if strings.IndexByte("(){}|+?", c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// grepUsage is busybox's short usage line, minus the options the
// simulator does not have (-r, -R: no recursion; -x, -z).
const grepUsage = "BusyBox multi-call binary.\n\nUsage: grep [-HhnlLoqvsiwFE] [-m N] [-A|B|C N] { PATTERN | -e PATTERN... | -f FILE... } [FILE]..."

// cmdGrep is busybox grep, context lines (-A, -B, -C) and -m included,
// down to its output: "--" between groups of lines that are not
// adjacent (also across files), "name-" and "N-" before context lines
// where a match has "name:" and "N:", and -m ending a file at its Nth
// match without trailing context.
func cmdGrep(e *env) int {
	var ignore, invert, quiet, count, list, listMissing, number, ext, fixed, word, only, noName, withName, silent bool
	var pats []string
	var files []string
	after, before, maxCount := 0, 0, -1
	args := e.args[1:]
	// value is the argument of option c at a[j]: the rest of a, or the
	// next argument; ok is false (and the error printed) when there is
	// none.
	value := func(a string, j int, i *int, c byte) (string, bool) {
		if j+1 < len(a) {
			return a[j+1:], true
		}
		if *i+1 < len(args) {
			*i++
			return args[*i], true
		}
		e.errf("option requires an argument -- '%c'", c)
		fmt.Fprintln(e.stderr, grepUsage)
		return "", false
	}
	number2 := func(v string) (int, bool) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || strings.HasPrefix(v, "+") {
			e.errf("invalid number '%s'", v)
			return 0, false
		}
		return n, true
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			files = append(files, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
		opts:
			for j := 1; j < len(a); j++ {
				switch c := a[j]; c {
				case 'i':
					ignore = true
				case 'v':
					invert = true
				case 'q':
					quiet = true
				case 'c':
					count = true
				case 'l':
					list = true
				case 'L':
					listMissing = true
				case 'n':
					number = true
				case 'E':
					ext = true
				case 'F':
					fixed = true
				case 'w':
					word = true
				case 'o':
					only = true
				case 'h':
					noName = true
				case 'H':
					withName = true
				case 's':
					silent = true
				case 'e', 'f', 'A', 'B', 'C', 'm':
					v, ok := value(a, j, &i, c)
					if !ok {
						return 2
					}
					switch c {
					case 'e':
						pats = append(pats, v)
					case 'f':
						r, err := e.openInput(v)
						if err != nil {
							e.errf("%s: %s", v, strerror(err))
							return 2
						}
						b, _ := io.ReadAll(r)
						r.Close()
						pats = append(pats, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
					default:
						n, ok := number2(v)
						if !ok {
							return 2
						}
						switch c {
						case 'A':
							after = n
						case 'B':
							before = n
						case 'C':
							after, before = n, n
						case 'm':
							maxCount = n
						}
					}
					break opts
				default:
					e.errf("invalid option -- '%c'", c)
					fmt.Fprintln(e.stderr, grepUsage)
					return 2
				}
			}
			continue
		}
		if pats == nil {
			pats = []string{a}
			continue
		}
		files = append(files, a)
	}
	if pats == nil {
		fmt.Fprintln(e.stderr, grepUsage)
		return 2
	}
	var alts []string
	for _, p := range pats {
		switch {
		case fixed:
			p = regexp.QuoteMeta(p)
		case !ext:
			p = bre2ere(p)
		}
		if word {
			p = `\b(?:` + p + `)\b`
		}
		alts = append(alts, "(?:"+p+")")
	}
	expr := strings.Join(alts, "|")
	if ignore {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		e.errf("bad regex '%s': %v", pats[0], err)
		return 2
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	showName := (len(files) > 1 || withName) && !noName
	// Context lines are printed only where lines are: not with -c, -l,
	// -L or -q.
	context := (after > 0 || before > 0) && !count && !list && !listMissing && !quiet
	matched, listed, printed := false, false, false
	code := 1
	for _, f := range files {
		r, err := e.openInput(f)
		if err != nil {
			if !silent {
				e.errf("%s: %s", f, strerror(err))
			}
			code = 2
			continue
		}
		name := f
		if f == "-" {
			name = "(standard input)"
		}
		// emit prints one line; sep is ':' for a selected line, '-' for
		// context.
		emit := func(n int, line string, sep byte) error {
			prefix := ""
			if showName {
				prefix = name + string(sep)
			}
			if number {
				prefix += strconv.Itoa(n) + string(sep)
			}
			if sep == ':' && only && !invert {
				for _, m := range re.FindAllString(line, -1) {
					if _, err := fmt.Fprintln(e.stdout, prefix+m); err != nil {
						return err
					}
				}
				return nil
			}
			_, err := fmt.Fprintln(e.stdout, prefix+line)
			return err
		}
		type held struct {
			n    int
			line string
		}
		var pending []held // up to before lines not yet printed
		last := 0          // the last line of this file printed
		trailing := 0      // context lines still to print after a match
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		n, hits := 0, 0
		var werr error
		for maxCount != 0 && werr == nil && sc.Scan() {
			n++
			line := sc.Text()
			if re.MatchString(line) == invert {
				if !context {
					continue
				}
				if trailing > 0 {
					trailing--
					werr, last = emit(n, line, '-'), n
				} else if before > 0 {
					pending = append(pending, held{n, line})
					if len(pending) > before {
						pending = pending[1:]
					}
				}
				continue
			}
			hits++
			matched = true
			if quiet {
				r.Close()
				return 0
			}
			if !count && !list && !listMissing {
				if context {
					first := n
					if len(pending) > 0 {
						first = pending[0].n
					}
					if printed && (last == 0 || first > last+1) {
						if _, werr = fmt.Fprintln(e.stdout, "--"); werr != nil {
							break
						}
					}
					for _, h := range pending {
						if werr = emit(h.n, h.line, '-'); werr != nil {
							break
						}
					}
					pending, trailing = pending[:0], after
				}
				if werr == nil {
					werr = emit(n, line, ':')
				}
				printed, last = true, n
			}
			if hits == maxCount {
				break
			}
		}
		r.Close()
		if werr != nil {
			return pipeStatus(werr)
		}
		if count {
			if showName {
				fmt.Fprintf(e.stdout, "%s:%d\n", f, hits)
			} else {
				fmt.Fprintln(e.stdout, hits)
			}
		}
		if list && hits > 0 {
			fmt.Fprintln(e.stdout, f)
		}
		if listMissing && hits == 0 {
			fmt.Fprintln(e.stdout, f)
			listed = true
		}
	}
	if listMissing {
		// busybox answers -L by whether it named a file.
		matched = listed
	}
	if matched && code != 2 {
		return 0
	}
	return code
}

var (
	cmdMd5sum    = hashCommand(md5.New)
	cmdSha1sum   = hashCommand(sha1.New)
	cmdSha256sum = hashCommand(sha256.New)
)
