package esxsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// session is one SSH session (or an API call) running shell commands.
type session struct {
	h      *Host
	id     int64
	user   string
	remote string
	kind   string // exec, shell, api
	pty    bool
	term   string
	width  int
	// redirErr is a read error of a file redirected into a command
	// (< FILE). The interpreter copies such a file into a pipe and turns
	// any error into end of file; the command that read the pipe takes
	// the error from here, so md5sum < BAD fails as on a real host.
	redirErr atomic.Pointer[error]
}

// redirReader records a redirected file's read errors in its session.
type redirReader struct {
	io.ReadWriteCloser
	s *session
}

func (r redirReader) Read(p []byte) (int, error) {
	n, err := r.ReadWriteCloser.Read(p)
	if err != nil && err != io.EOF {
		r.s.redirErr.Store(&err)
	}
	return n, err
}

// env is what a command implementation gets: its words, the session's
// state and its standard streams.
type env struct {
	ctx    context.Context
	h      *Host
	s      *session
	name   string
	args   []string // args[0] is the command name as typed
	dir    string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// errf prints "name: message" to stderr, as busybox applets do.
func (e *env) errf(format string, a ...any) {
	fmt.Fprintf(e.stderr, "%s: %s\n", e.name, fmt.Sprintf(format, a...))
}

func (e *env) abs(p string) string { return absPath(e.dir, p) }

// commandFunc implements one command; it returns the exit status.
type commandFunc func(e *env) int

// commands is every command the simulated shell knows besides its
// builtins; it is filled in init to let find -exec dispatch through it.

func (s *session) env(ctx context.Context) expand.Environ {
	vars := []string{"HOME=/", "PATH=/bin:/sbin", "SHELL=/bin/sh", "USER=" + s.user, "LOGNAME=" + s.user,
		"PWD=/", "HOSTNAME=" + s.h.sc.Host.Hostname, "PS1=[\\u@\\h:\\w] "}
	if s.term != "" {
		vars = append(vars, "TERM="+s.term)
	}
	if s.kind != "api" {
		vars = append(vars, "SSH_CONNECTION="+s.remote)
	}
	return expand.ListEnviron(vars...)
}

// newRunner makes a POSIX shell interpreter whose commands, redirections,
// globs and tests all go to the simulated host.
func (s *session) newRunner(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) (*interp.Runner, error) {
	return interp.New(
		interp.Env(s.env(ctx)),
		interp.Dir("/"),
		interp.StdIO(stdin, stdout, stderr),
		interp.ExecHandlers(func(interp.ExecHandlerFunc) interp.ExecHandlerFunc { return s.exec }),
		interp.CallHandler(s.call),
		interp.OpenHandler(s.open),
		interp.ReadDirHandler2(s.readDir),
		interp.StatHandler(s.stat),
		interp.AccessHandler(s.access),
	)
}

// commandV is the internal name call gives `command -v`: the
// interpreter's own would search the workstation's PATH, not the host's.
const commandV = "\x00command -v"

// call adjusts builtins whose messages differ from ash's.
func (s *session) call(ctx context.Context, args []string) ([]string, error) {
	if args[0] == "command" && len(args) > 2 && args[1] == "-v" {
		return append([]string{commandV}, args[2:]...), nil
	}
	if args[0] == "cd" && len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		hc := interp.HandlerCtx(ctx)
		p := absPath(hc.Dir, args[1])
		fi, err := s.h.stat(p, true)
		if err != nil || !fi.IsDir() {
			msg := "No such file or directory"
			if err == nil {
				msg = "Not a directory"
			} else if e := errnoOf(err); e != syscall.ENOENT {
				msg = strerror(err)
			}
			fmt.Fprintf(hc.Stderr, "sh: cd: can't cd to %s: %s\n", args[1], msg)
			return []string{"false"}, nil
		}
	}
	return args, nil
}

// exec runs a command: one of ours, by name or by its path under /bin or
// /sbin, or a recorded output; anything else is "not found" as in ash.
func (s *session) exec(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
	name := args[0]
	stdin := hc.Stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	if name == commandV {
		return s.commandV(hc.Dir, hc.Stdout, args[1:])
	}
	cmd := name
	if strings.Contains(name, "/") {
		p := absPath(hc.Dir, name)
		fi, err := s.h.stat(p, true)
		if err != nil {
			fmt.Fprintf(hc.Stderr, "sh: %s: not found\n", name)
			return interp.NewExitStatus(127)
		}
		cmd = path.Base(p)
		if fi.IsDir() || fi.mode&0o111 == 0 || command(cmd) == nil {
			fmt.Fprintf(hc.Stderr, "sh: %s: Permission denied\n", name)
			return interp.NewExitStatus(126)
		}
	}
	if r, ok := s.h.recorded[strings.Join(append([]string{cmd}, args[1:]...), " ")]; ok {
		io.WriteString(hc.Stdout, r.Stdout)
		io.WriteString(hc.Stderr, r.Stderr)
		if r.Exit != 0 {
			return interp.NewExitStatus(uint8(r.Exit))
		}
		return nil
	}
	impl := command(cmd)
	ok := impl != nil
	if !ok || s.h.sc.Options.missing(cmd) {
		fmt.Fprintf(hc.Stderr, "sh: %s: not found\n", name)
		return interp.NewExitStatus(127)
	}
	e := &env{ctx: ctx, h: s.h, s: s, name: cmd, args: args, dir: hc.Dir, stdin: stdin, stdout: hc.Stdout, stderr: hc.Stderr}
	code := impl(e)
	if perr := s.redirErr.Swap(nil); perr != nil && code == 0 {
		fmt.Fprintf(hc.Stderr, "%s: standard input: %s\n", cmd, strerror(*perr))
		code = 1
	}
	if code != 0 {
		return interp.NewExitStatus(uint8(code))
	}
	return nil
}

// shellOpenError is how ash reports a failed redirection.
func shellOpenError(p string, flag int, err error) error {
	e := errnoOf(err)
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		msg := strerror(err)
		if e == syscall.ENOENT || e == syscall.ENOTDIR {
			msg = "nonexistent directory"
		}
		return &os.PathError{Op: "sh: can't create", Path: p, Err: errors.New(msg)}
	}
	msg := strerror(err)
	if e == syscall.ENOENT || e == syscall.ENOTDIR {
		msg = "no such file"
	}
	return &os.PathError{Op: "sh: can't open", Path: p, Err: errors.New(msg)}
}

func (s *session) open(ctx context.Context, p string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
	hc := interp.HandlerCtx(ctx)
	ap := absPath(hc.Dir, p)
	f, err := s.h.openFile(ap, flag, perm)
	if err != nil {
		return nil, shellOpenError(p, flag, err)
	}
	if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return redirReader{f, s}, nil
	}
	return f, nil
}

func (s *session) readDir(ctx context.Context, p string) ([]fs.DirEntry, error) {
	hc := interp.HandlerCtx(ctx)
	list, err := s.h.readDir(absPath(hc.Dir, p))
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, len(list))
	for i, fi := range list {
		out[i] = fi
	}
	return out, nil
}

func (s *session) stat(ctx context.Context, p string, follow bool) (fs.FileInfo, error) {
	hc := interp.HandlerCtx(ctx)
	fi, err := s.h.stat(absPath(hc.Dir, p), follow)
	if err != nil {
		return nil, err
	}
	return fi, nil
}

func (s *session) access(ctx context.Context, p string, mode interp.AccessMode) error {
	fi, err := s.h.stat(p, true)
	if err != nil {
		return err
	}
	if mode&interp.AccessExec != 0 && !fi.IsDir() && fi.mode&0o111 == 0 {
		return pathErr("access", p, syscall.EACCES)
	}
	return nil
}

func exitOf(err error) int {
	if err == nil {
		return 0
	}
	if st, ok := interp.IsExitStatus(err); ok {
		return int(st)
	}
	if errors.Is(err, context.Canceled) {
		return 130
	}
	return 1
}

func syntaxMessage(err error) string {
	var pe syntax.ParseError
	if errors.As(err, &pe) {
		return pe.Text
	}
	return err.Error()
}

// Exec runs a command line on the host without SSH, as an examiner's
// script would over SSH, and returns its output and exit status. It is
// recorded in the footprint with kind "api".
func (h *Host) Exec(ctx context.Context, line string) (stdout, stderr string, exit int) {
	var out, errb strings.Builder
	s := &session{h: h, id: h.nextSess.Add(1), user: h.cfg.User, remote: "api", kind: "api"}
	exit = s.runCommand(ctx, line, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), exit
}

// runCommand runs one exec request and records it in the footprint.
func (s *session) runCommand(ctx context.Context, line string, stdin io.Reader, stdout, stderr io.Writer) int {
	start := s.h.now()
	t0 := time.Now()
	r, err := s.newRunner(ctx, stdin, stdout, stderr)
	code := 1
	if err == nil {
		code = s.runWith(ctx, r, line, stderr)
	}
	s.h.foot.add(Command{Time: start, Session: s.id, User: s.user, Remote: s.remote, Kind: s.kind, Line: line, Exit: code, Duration: time.Since(t0)})
	return code
}

func (s *session) runWith(ctx context.Context, r *interp.Runner, line string, stderr io.Writer) int {
	prog, err := syntax.NewParser(syntax.Variant(syntax.LangPOSIX)).Parse(strings.NewReader(line), "")
	if err != nil {
		fmt.Fprintf(stderr, "sh: syntax error: %s\n", syntaxMessage(err))
		return 2
	}
	unescapeLiterals(prog)
	return exitOf(r.Run(ctx, prog))
}

// commandV prints where each name is found on the host, as ash's
// command -v does: builtins by name, commands by path; status 1 when the
// last is not found.
func (s *session) commandV(dir string, stdout io.Writer, names []string) error {
	found := false
	for _, n := range names {
		found = false
		if interp.IsBuiltin(n) {
			fmt.Fprintln(stdout, n)
			found = true
			continue
		}
		cands := []string{"/bin/" + n, "/sbin/" + n}
		if strings.Contains(n, "/") {
			cands = []string{absPath(dir, n)}
		}
		for _, p := range cands {
			if fi, err := s.h.stat(p, true); err == nil && !fi.IsDir() && fi.mode&0o111 != 0 {
				fmt.Fprintln(stdout, p)
				found = true
				break
			}
		}
	}
	if !found {
		return interp.NewExitStatus(1)
	}
	return nil
}
