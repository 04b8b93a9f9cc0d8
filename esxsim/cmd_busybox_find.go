package esxsim

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// find implements busybox find's common primaries.
func cmdFind(e *env) int {
	args := e.args[1:]
	var roots []string
	i := 0
	for i < len(args) && (args[i] == "-H" || args[i] == "-L") {
		i++
	}
	for ; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") || a == "(" || a == "!" {
			break
		}
		roots = append(roots, a)
	}
	if len(roots) == 0 {
		roots = []string{"."}
	}
	fp := &findParser{e: e, args: args[i:], maxDepth: -1}
	expr, err := fp.parse()
	if err != nil {
		e.errf("%s", err)
		return 1
	}
	if expr == nil || !fp.hasAction {
		inner := expr
		expr = func(c *findCtx) bool {
			if inner == nil || inner(c) {
				fmt.Fprintln(e.stdout, c.shown)
			}
			return true
		}
	}
	code := 0
	var walk func(p, shown string, fi *fileInfo, depth int)
	walk = func(p, shown string, fi *fileInfo, depth int) {
		if e.ctx.Err() != nil {
			return
		}
		if depth >= fp.minDepth {
			expr(&findCtx{path: p, shown: shown, fi: fi, depth: depth})
		}
		if !fi.IsDir() || (fp.maxDepth >= 0 && depth >= fp.maxDepth) {
			return
		}
		list, err := e.h.readDir(p)
		if err != nil {
			e.errf("%s: %s", shown, strerror(err))
			code = 1
			return
		}
		for _, c := range list {
			walk(path.Join(p, c.name), strings.TrimSuffix(shown, "/")+"/"+c.name, c, depth+1)
		}
	}
	for _, r := range roots {
		fi, err := e.h.stat(e.abs(r), true)
		if err != nil {
			e.errf("%s: %s", r, strerror(err))
			code = 1
			continue
		}
		fi.name = path.Base(r)
		walk(e.abs(r), r, fi, 0)
	}
	if fp.err != 0 {
		code = fp.err
	}
	return code
}

type findCtx struct {
	path, shown string
	fi          *fileInfo
	depth       int
}

type findExpr func(*findCtx) bool

type findParser struct {
	e         *env
	args      []string
	pos       int
	maxDepth  int
	minDepth  int
	hasAction bool
	err       int
}

func (p *findParser) peek() string {
	if p.pos < len(p.args) {
		return p.args[p.pos]
	}
	return ""
}

func (p *findParser) parse() (findExpr, error) {
	if p.pos >= len(p.args) {
		return nil, nil
	}
	x, err := p.or()
	if err == nil && p.pos < len(p.args) {
		err = fmt.Errorf("unrecognized: %s", p.args[p.pos])
	}
	return x, err
}

func (p *findParser) or() (findExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek() == "-o" || p.peek() == "-or" {
		p.pos++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(c *findCtx) bool { return a(c) || b(c) }
	}
	return l, nil
}

func (p *findParser) and() (findExpr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.pos < len(p.args) && p.peek() != "-o" && p.peek() != "-or" && p.peek() != ")" {
		if p.peek() == "-a" || p.peek() == "-and" {
			p.pos++
		}
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(c *findCtx) bool { return a(c) && b(c) }
	}
	return l, nil
}

func (p *findParser) unary() (findExpr, error) {
	switch p.peek() {
	case "!", "-not":
		p.pos++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(c *findCtx) bool { return !x(c) }, nil
	case "(":
		p.pos++
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return x, nil
	}
	return p.primary()
}

func (p *findParser) arg(name string) (string, error) {
	if p.pos >= len(p.args) {
		return "", fmt.Errorf("%s requires an argument", name)
	}
	a := p.args[p.pos]
	p.pos++
	return a, nil
}

func (p *findParser) primary() (findExpr, error) {
	name := p.peek()
	p.pos++
	e := p.e
	switch name {
	case "-name", "-iname":
		pat, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		fold := name == "-iname"
		return func(c *findCtx) bool {
			n := path.Base(c.shown)
			if c.depth == 0 {
				n = path.Base(c.shown)
			}
			if fold {
				ok, _ := path.Match(strings.ToLower(pat), strings.ToLower(n))
				return ok
			}
			ok, _ := path.Match(pat, n)
			return ok
		}, nil
	case "-path", "-wholename":
		pat, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		return func(c *findCtx) bool { return globMatchSlash(pat, c.shown) }, nil
	case "-type":
		t, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		return func(c *findCtx) bool {
			m := c.fi.mode
			switch t {
			case "f":
				return m.IsRegular()
			case "d":
				return m.IsDir()
			case "l":
				return m&fs.ModeSymlink != 0
			case "c":
				return m&fs.ModeCharDevice != 0
			case "b":
				return m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0
			}
			return false
		}, nil
	case "-maxdepth", "-mindepth":
		v, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil {
			return nil, fmt.Errorf("invalid number '%s'", v)
		}
		if name == "-maxdepth" {
			p.maxDepth = n
		} else {
			p.minDepth = n
		}
		return func(*findCtx) bool { return true }, nil
	case "-xdev", "-follow", "-depth":
		return func(*findCtx) bool { return true }, nil
	case "-size":
		v, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		cmp := 0
		if strings.HasPrefix(v, "+") {
			cmp, v = 1, v[1:]
		} else if strings.HasPrefix(v, "-") {
			cmp, v = -1, v[1:]
		}
		unit := int64(512)
		if n := len(v); n > 0 {
			switch v[n-1] {
			case 'c':
				unit, v = 1, v[:n-1]
			case 'k':
				unit, v = 1024, v[:n-1]
			case 'M':
				unit, v = 1<<20, v[:n-1]
			case 'G':
				unit, v = 1<<30, v[:n-1]
			case 'b':
				v = v[:n-1]
			}
		}
		var n int64
		if _, err := fmt.Sscan(v, &n); err != nil {
			return nil, fmt.Errorf("invalid argument '%s' to '-size'", v)
		}
		return func(c *findCtx) bool {
			units := (c.fi.size + unit - 1) / unit
			switch cmp {
			case 1:
				return units > n
			case -1:
				return units < n
			}
			return units == n
		}, nil
	case "-print", "-print0":
		p.hasAction = true
		end := "\n"
		if name == "-print0" {
			end = "\x00"
		}
		return func(c *findCtx) bool { fmt.Fprint(e.stdout, c.shown+end); return true }, nil
	case "-exec":
		p.hasAction = true
		var argv []string
		for p.pos < len(p.args) && p.args[p.pos] != ";" && p.args[p.pos] != "+" {
			argv = append(argv, p.args[p.pos])
			p.pos++
		}
		if p.pos >= len(p.args) || len(argv) == 0 {
			return nil, fmt.Errorf("-exec CMD must end by ';' or '+'")
		}
		p.pos++
		return func(c *findCtx) bool {
			words := make([]string, len(argv))
			for i, a := range argv {
				words[i] = strings.ReplaceAll(a, "{}", c.shown)
			}
			impl := command(path.Base(words[0]))
			if impl == nil {
				e.errf("%s: No such file or directory", words[0])
				p.err = 1
				return false
			}
			sub := *e
			sub.name, sub.args = path.Base(words[0]), words
			return impl(&sub) == 0
		}, nil
	case "-mtime", "-newer", "-perm", "-user", "-group", "-links", "-inum":
		if _, err := p.arg(name); err != nil {
			return nil, err
		}
		return func(*findCtx) bool { return true }, nil
	case "-prune":
		return func(*findCtx) bool { return true }, nil
	}
	return nil, fmt.Errorf("unrecognized: %s", name)
}

func globMatchSlash(pat, s string) bool {
	// find's -path lets * match across slashes.
	re := strings.NewReplacer("*", "\x00").Replace(pat)
	parts := strings.Split(re, "\x00")
	if len(parts) == 1 {
		return pat == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, part := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(s, part)
		}
		j := strings.Index(s, part)
		if j < 0 {
			return false
		}
		s = s[j+len(part):]
	}
	return true
}
