package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/esxsink/esxsink/internal/peer"
)

// The trainers' exercises in examples/exercises/ are Markdown a student
// follows by hand. This file walks them the same way, so a change to the
// product or the simulator that makes an exercise lie fails here instead of
// in front of a class. The format the Markdown follows is described in
// examples/exercises/README.md ("For trainers: how the exercises are
// tested"); the parser below is its only reader.

const exercisesDir = "../../examples/exercises"

// exStep is one fenced ```sh block of an exercise, with what must follow it.
type exStep struct {
	file, name, run string
	line            int
	script          string
	terminal        string // run=background and run=ctrl-c: which terminal
	ready           string // run=background: text that says it is up
	exit            string // "" (0), a number, or "nonzero"
	cond            string // if=: run the step only when this command succeeds
	expect          []string
	expectNot       []string // lines that must not appear
	captures        []exCapture
}

type exCapture struct {
	name string
	re   *regexp.Regexp
}

var (
	fenceOpen = regexp.MustCompile("^```(\\S*)(.*)$")
	// <!-- capture NAME REGEX -->: the first group of REGEX in the previous
	// step's output becomes $NAME for later steps.
	captureRe = regexp.MustCompile(`^<!--\s*capture\s+([A-Z_][A-Z0-9_]*)\s+(.+?)\s*-->\s*$`)
)

// parseExercise reads the steps of one exercise. Mistakes in the markup
// are errors with the line, so a trainer editing an exercise finds them.
func parseExercise(name string, text string) ([]*exStep, error) {
	var steps []*exStep
	var last *exStep
	names := map[string]int{}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		ln := i + 1
		if m := captureRe.FindStringSubmatch(lines[i]); m != nil {
			if last == nil {
				return nil, fmt.Errorf("%s:%d: capture before any step", name, ln)
			}
			re, err := regexp.Compile(m[2])
			if err != nil || re.NumSubexp() < 1 {
				return nil, fmt.Errorf("%s:%d: capture %s: %q is not a regular expression with a group (%v)", name, ln, m[1], m[2], err)
			}
			last.captures = append(last.captures, exCapture{m[1], re})
			continue
		}
		m := fenceOpen.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		var body []string
		j := i + 1
		for ; j < len(lines) && !strings.HasPrefix(lines[j], "```"); j++ {
			body = append(body, lines[j])
		}
		if j == len(lines) {
			return nil, fmt.Errorf("%s:%d: code block is never closed", name, ln)
		}
		i = j
		attrs, err := parseInfo(m[2])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, ln, err)
		}
		switch {
		case m[1] == "expect" || m[1] == "expect-not":
			if last == nil {
				return nil, fmt.Errorf("%s:%d: %s block before any step", name, ln, m[1])
			}
			for _, l := range body {
				if t := strings.TrimSpace(l); t != "" && t != "..." {
					if m[1] == "expect" {
						last.expect = append(last.expect, l)
					} else {
						last.expectNot = append(last.expectNot, l)
					}
				}
			}
		case m[1] == "sh" && attrs["step"] != "":
			s := &exStep{file: name, line: ln, name: attrs["step"], run: attrs["run"], script: strings.Join(body, "\n"),
				terminal: attrs["terminal"], ready: attrs["ready"], exit: attrs["exit"], cond: attrs["if"]}
			for k := range attrs {
				switch k {
				case "step", "run", "terminal", "ready", "exit", "if":
				default:
					return nil, fmt.Errorf("%s:%d: step %s: unknown attribute %q", name, ln, s.name, k)
				}
			}
			if prev, dup := names[s.name]; dup {
				return nil, fmt.Errorf("%s:%d: step %s is already used at line %d", name, ln, s.name, prev)
			}
			names[s.name] = ln
			switch s.run {
			case "workstation", "esx", "login":
			case "background":
				if s.terminal == "" || s.ready == "" {
					return nil, fmt.Errorf("%s:%d: step %s: run=background needs terminal= and ready=", name, ln, s.name)
				}
			case "ctrl-c":
				if s.terminal == "" {
					return nil, fmt.Errorf("%s:%d: step %s: run=ctrl-c needs terminal=", name, ln, s.name)
				}
			default:
				return nil, fmt.Errorf("%s:%d: step %s: run=%q is not workstation, esx, login, background or ctrl-c", name, ln, s.name, s.run)
			}
			if s.exit != "" && s.exit != "nonzero" {
				if _, err := strconv.Atoi(s.exit); err != nil {
					return nil, fmt.Errorf("%s:%d: step %s: exit=%q is not a number or nonzero", name, ln, s.name, s.exit)
				}
			}
			steps = append(steps, s)
			last = s
		}
	}
	return steps, nil
}

// parseInfo splits a fence's info string into key=value pairs; values may
// be double-quoted.
func parseInfo(s string) (map[string]string, error) {
	out := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || strings.ContainsAny(s[:eq], " \t") {
			return nil, fmt.Errorf("info string: %q is not key=value", s)
		}
		key, rest := s[:eq], s[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("info string: unterminated quote after %s=", key)
			}
			val, s = rest[1:end+1], rest[end+2:]
		} else if sp := strings.IndexAny(rest, " \t"); sp >= 0 {
			val, s = rest[:sp], rest[sp:]
		} else {
			val, s = rest, ""
		}
		out[key] = val
	}
	return out, nil
}

var spaceRun = regexp.MustCompile(`[ \t]+`)

// missingLines returns the expected lines that do not appear in out. Runs
// of spaces count as one, as a reader's eye treats table columns.
func missingLines(out string, expect []string, vars func(string) string) []string {
	norm := spaceRun.ReplaceAllString(out, " ")
	var miss []string
	for _, e := range expect {
		want := strings.TrimSpace(spaceRun.ReplaceAllString(os.Expand(e, vars), " "))
		if !strings.Contains(norm, want) {
			miss = append(miss, want)
		}
	}
	return miss
}

// presentLines returns the lines of notExpected that do appear in out.
func presentLines(out string, notExpected []string, vars func(string) string) []string {
	var shown []string
	for _, e := range notExpected {
		if len(missingLines(out, []string{e}, vars)) == 0 {
			shown = append(shown, strings.TrimSpace(e))
		}
	}
	return shown
}

// exTerminal is a command left running in its own terminal.
type exTerminal struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func (term *exTerminal) Write(p []byte) (int, error) {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.Write(p)
}

func (term *exTerminal) text() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

// interrupt is Ctrl-C: SIGINT to the terminal's foreground process group.
func (term *exTerminal) interrupt(timeout time.Duration) error {
	_ = syscall.Kill(-term.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-term.done:
		return term.err
	case <-time.After(timeout):
		_ = syscall.Kill(-term.cmd.Process.Pid, syscall.SIGKILL)
		<-term.done
		return fmt.Errorf("still running %v after Ctrl-C", timeout)
	}
}

// exerciseRun is one student working through one exercise file.
type exerciseRun struct {
	t         *testing.T
	dir       string // the student's working folder
	env       map[string]string
	terminals map[string]*exTerminal
	sshConfig string
	ssh       string            // the student's ssh (the wrapper)
	tools     map[string]string // the peers, by name
}

func (r *exerciseRun) lookup(k string) string {
	if v, ok := r.env[k]; ok {
		return v
	}
	return "$" + k
}

func (r *exerciseRun) environ() []string {
	out := os.Environ()
	for k, v := range r.env {
		out = append(out, k+"="+v)
	}
	return out
}

// TestExercises walks every exercise in examples/exercises/ against the
// lab: each step's commands run as a student would run them, and each
// expect block must appear in what they print.
func TestExercises(t *testing.T) {
	tools := map[string]string{}
	for _, p := range []string{"ssh", "sshpass", "ssh-keyscan", "ssh-keygen", "md5sum", "cmp", "qemu-img", "mmls", "fls", "icat", "mactime"} {
		tools[p] = peer.Require(t, p)
	}
	files, err := filepath.Glob(filepath.Join(exercisesDir, "[0-9][0-9]-*.md"))
	if err != nil || len(files) < 6 {
		t.Fatalf("want the six exercises in %s, found %v (%v)", exercisesDir, files, err)
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		steps, err := parseExercise(filepath.Base(f), string(b))
		if err != nil {
			t.Fatal(err)
		}
		if len(steps) == 0 {
			t.Fatalf("%s has no steps the test can run", f)
		}
		t.Run(strings.TrimSuffix(filepath.Base(f), ".md"), func(t *testing.T) {
			runExercise(t, tools, steps)
		})
	}
}

func runExercise(t *testing.T, tools map[string]string, steps []*exStep) {
	scenario, err := filepath.Abs(filepath.Join(exercisesDir, "training.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	labs, err := filepath.Abs("../../examples/lab")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	r := &exerciseRun{t: t, dir: filepath.Join(tmp, "work"), terminals: map[string]*exTerminal{}, tools: tools}
	bin := filepath.Join(tmp, "bin")
	for _, d := range []string{r.dir, bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The student's PATH: esxsink, and an ssh that types the password
	// (sshpass) and trusts only the host key checked below.
	for name, target := range map[string]string{"esxsink": esxsinkBin, "esxsink-lab": labBin} {
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	r.sshConfig = filepath.Join(tmp, "ssh_config")
	wrapper := fmt.Sprintf("#!/bin/sh\nif [ -n \"$EXERCISE_TTY\" ]; then set -- -tt \"$@\"; fi\nexec %q -e %q -F %q \"$@\"\n",
		tools["sshpass"], tools["ssh"], r.sshConfig)
	r.ssh = filepath.Join(bin, "ssh")
	if err := os.WriteFile(r.ssh, []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	r.env = map[string]string{
		"PATH":         bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"LAB_HOST":     "127.0.0.1",
		"LAB_PORT":     strconv.Itoa(freePort(t)),
		"NFS_PORT":     strconv.Itoa(freePort(t)),
		"PORTMAP_PORT": strconv.Itoa(freePort(t)),
		"SCENARIO":     scenario,
		"LABS":         labs,
		"VCENTER_PORT": strconv.Itoa(freePort(t)),
		"CASE":         filepath.Join(tmp, "cases", "EX"),
	}
	t.Cleanup(func() {
		for name, term := range r.terminals {
			if err := term.interrupt(15 * time.Second); err != nil {
				t.Logf("terminal %s at the end: %v", name, err)
			}
		}
	})
	for _, s := range steps {
		if s.cond != "" {
			if out, err := r.bash(context.Background(), s.cond, ""); err != nil {
				t.Logf("%s:%d step %s skipped: %q fails here (%v): %s", s.file, s.line, s.name, s.cond, err, out)
				continue
			}
		}
		out, code := r.runStep(s)
		for _, c := range s.captures {
			m := c.re.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("%s:%d step %s: nothing in its output matches capture %s %s\noutput:\n%s", s.file, s.line, s.name, c.name, c.re, out)
			}
			r.env[c.name] = m[1]
		}
		want := 0
		switch s.exit {
		case "":
		case "nonzero":
			want = -1
		default:
			want, _ = strconv.Atoi(s.exit)
		}
		if (want == -1 && code == 0) || (want >= 0 && code != want) {
			t.Fatalf("%s:%d step %s: exit status %d, the exercise says %s\ncommands:\n%s\noutput:\n%s",
				s.file, s.line, s.name, code, map[bool]string{true: "non-zero", false: strconv.Itoa(want)}[want == -1], s.script, out)
		}
		if miss := missingLines(out, s.expect, r.lookup); len(miss) > 0 {
			t.Fatalf("%s:%d step %s: the student does not see what the exercise promises:\n  missing: %s\ncommands:\n%s\noutput:\n%s",
				s.file, s.line, s.name, strings.Join(miss, "\n  missing: "), s.script, out)
		}
		if shown := presentLines(out, s.expectNot, r.lookup); len(shown) > 0 {
			t.Fatalf("%s:%d step %s: the student sees what the exercise says is absent:\n  present: %s\ncommands:\n%s\noutput:\n%s",
				s.file, s.line, s.name, strings.Join(shown, "\n  present: "), s.script, out)
		}
		t.Logf("step %s: ok (%d expected lines, %d absent, exit %d)", s.name, len(s.expect), len(s.expectNot), code)
	}
}

// runStep runs one step and returns what the student's terminal shows and
// the exit status.
func (r *exerciseRun) runStep(s *exStep) (string, int) {
	t := r.t
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out string
	var err error
	switch s.run {
	case "workstation":
		out, err = r.bash(ctx, s.script, "")
	case "login":
		// An interactive login: the student reads the banner and leaves.
		r.env["EXERCISE_TTY"] = "1"
		out, err = r.bash(ctx, s.script, "exit\n")
		delete(r.env, "EXERCISE_TTY")
	case "esx":
		// Typed at the host's prompt: the block goes to the host's shell
		// as one command line, through the same ssh the student used.
		cmd := exec.CommandContext(ctx, r.ssh, "-p", r.env["LAB_PORT"], "root@"+r.env["LAB_HOST"], s.script)
		cmd.Env = r.environ()
		var b []byte
		b, err = cmd.CombinedOutput()
		out = string(b)
	case "background":
		return r.startTerminal(s)
	case "ctrl-c":
		term := r.terminals[s.terminal]
		if term == nil {
			t.Fatalf("%s:%d step %s: no terminal %q is running", s.file, s.line, s.name, s.terminal)
		}
		before := len(term.text())
		err = term.interrupt(time.Minute)
		delete(r.terminals, s.terminal)
		out = term.text()[before:]
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out, 0
	case errors.As(err, &ee):
		return out, ee.ExitCode()
	default:
		t.Fatalf("%s:%d step %s: %v\n%s", s.file, s.line, s.name, err, out)
		return "", 0
	}
}

// bash runs a workstation block in the student's working folder.
func (r *exerciseRun) bash(ctx context.Context, script, stdin string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = r.dir
	cmd.Env = r.environ()
	cmd.Stdin = strings.NewReader(stdin)
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// startTerminal starts a long-running command (the lab, the sink) in its
// own process group, as in its own terminal, and waits until it says it
// is ready.
func (r *exerciseRun) startTerminal(s *exStep) (string, int) {
	t := r.t
	if r.terminals[s.terminal] != nil {
		t.Fatalf("%s:%d step %s: terminal %q is busy", s.file, s.line, s.name, s.terminal)
	}
	term := &exTerminal{done: make(chan struct{})}
	term.cmd = exec.Command("bash", "-c", s.script)
	term.cmd.Dir = r.dir
	term.cmd.Env = r.environ()
	term.cmd.Stdout, term.cmd.Stderr = term, term
	term.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := term.cmd.Start(); err != nil {
		t.Fatalf("%s:%d step %s: %v", s.file, s.line, s.name, err)
	}
	go func() { term.err = term.cmd.Wait(); close(term.done) }()
	r.terminals[s.terminal] = term
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(term.text(), s.ready) {
		select {
		case <-term.done:
			t.Fatalf("%s:%d step %s: exited (%v) before printing %q:\n%s", s.file, s.line, s.name, term.err, s.ready, term.text())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:%d step %s: no %q after a minute:\n%s", s.file, s.line, s.name, s.ready, term.text())
		}
	}
	out := term.text()
	if s.terminal == "lab" {
		r.learnLab(s, out)
	}
	return out, 0
}

// learnLab reads what the lab's banner tells the student, as the set-up
// in examples/exercises/README.md has them write it down: the password,
// typed at ssh's prompt (here by sshpass), and the host-key fingerprint,
// which the student compares before trusting the host (here: the key
// ssh-keyscan fetches must have that fingerprint, or the test stops).
// A vSphere lab's banner adds the vCenter ($VCENTER, $VCENTER_USER,
// $VCENTER_THUMBPRINT, $ESXSINK_VCENTER_PASSWORD) and one block per host:
// each host's fingerprint is $<HOST>_FINGERPRINT (ESX01_FINGERPRINT) and
// its password $<HOST>_PASSWORD; $ESXSINK_PASSWORD is set only when
// every host has the same, and ssh types the first host's. A host whose
// SSH is stopped cannot be scanned yet.
func (r *exerciseRun) learnLab(s *exStep, text string) {
	t := r.t
	banner, err := parseLabBanner(text)
	if err != nil {
		t.Fatalf("%s:%d step %s: %v", s.file, s.line, s.name, err)
	}
	first := banner.hosts[0]
	r.env["SSHPASS"] = first.password
	if !slices.ContainsFunc(banner.hosts, func(h labHostInfo) bool { return h.password != first.password }) {
		r.env["ESXSINK_PASSWORD"] = first.password
	}
	r.env["LAB_FINGERPRINT"] = first.hostKey
	if v := banner.vcenter; v.url != "" {
		r.env["VCENTER"], r.env["VCENTER_USER"], r.env["VCENTER_THUMBPRINT"], r.env["ESXSINK_VCENTER_PASSWORD"] = v.url, v.user, v.thumbprint, v.password
	}
	var keys []byte
	for _, h := range banner.hosts {
		if banner.vcenter.url != "" {
			r.env[strings.ToUpper(h.name)+"_FINGERPRINT"] = h.hostKey
			r.env[strings.ToUpper(h.name)+"_PASSWORD"] = h.password
			if !strings.HasPrefix(h.ssh, "running") {
				continue
			}
		}
		addr := cmp.Or(h.addr, r.env["LAB_HOST"])
		k, err := exec.Command(r.tools["ssh-keyscan"], "-p", r.env["LAB_PORT"], addr).Output()
		if err != nil || len(k) == 0 {
			t.Fatalf("ssh-keyscan of the lab's %s at %s: %v", h.name, addr, err)
		}
		kg := exec.Command(r.tools["ssh-keygen"], "-lf", "-")
		kg.Stdin = bytes.NewReader(k)
		prints, err := kg.Output()
		if err != nil || !strings.Contains(string(prints), h.hostKey) {
			t.Fatalf("the lab's host key of %s is not the one its banner prints (%s): %v\n%s", h.name, h.hostKey, err, prints)
		}
		keys = append(keys, k...)
	}
	kh := filepath.Join(filepath.Dir(r.sshConfig), "known_hosts")
	if err := os.WriteFile(kh, keys, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("Host *\n  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n", kh)
	if err := os.WriteFile(r.sshConfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestExerciseMarkup checks the reader of the exercise format on a small
// exercise: steps, expectations, captures, and mistakes reported with
// their line.
func TestExerciseMarkup(t *testing.T) {
	t.Parallel()
	md := "# x\n\n```sh step=a run=workstation exit=1\nfalse\n```\n\n```expect\nYou  should   see\n...\n```\n" +
		"<!-- capture SUM ([0-9a-f]{32}) -->\n\n```sh step=b run=background terminal=lab ready=\"press Ctrl-C\"\nesxsink-lab\n```\n"
	steps, err := parseExercise("x.md", md)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[0].exit != "1" || len(steps[0].expect) != 1 || len(steps[0].captures) != 1 || steps[1].ready != "press Ctrl-C" {
		t.Fatalf("parsed %+v %+v", steps[0], steps[1])
	}
	vars := func(k string) string { return map[string]string{"SUM": "abc"}[k] }
	if miss := missingLines("you see:\nYou should    see it\n", steps[0].expect, vars); len(miss) != 0 {
		t.Errorf("spacing must not matter: missing %v", miss)
	}
	if miss := missingLines("You should not see", steps[0].expect, vars); len(miss) != 1 {
		t.Errorf("an absent line was not reported: %v", miss)
	}
	if shown := presentLines("a\nb  c\n", []string{"b c", "d"}, vars); len(shown) != 1 || shown[0] != "b c" {
		t.Errorf("expect-not: %v, want [b c]", shown)
	}
	if miss := missingLines("sum abc here", []string{"sum $SUM here"}, vars); len(miss) != 0 {
		t.Errorf("variables are not expanded: %v", miss)
	}
	for _, bad := range []string{
		"```expect\nx\n```\n",
		"```sh step=a run=elsewhere\nx\n```\n",
		"```sh step=a run=background\nx\n```\n",
		"```sh step=a run=esx\nx\n```\n```sh step=a run=esx\ny\n```\n",
		"```sh step=a run=esx colour=red\nx\n```\n",
		"```sh step=a run=esx\nx\n",
		"```sh step=a run=esx\nx\n```\n<!-- capture X nogroup -->\n",
	} {
		// The trainer finds the mistake by the file and line the
		// message names: the product.
		if _, err := parseExercise("bad.md", bad); err == nil || !strings.Contains(err.Error(), "bad.md:") {
			t.Errorf("%q: error %v, want one naming the line", bad, err)
		}
	}
}
