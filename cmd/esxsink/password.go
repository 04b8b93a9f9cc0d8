package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/esxsink/esxsink/orchestrator"
)

// errNoPassword: no file, no environment variable and no terminal to ask
// at.
var errNoPassword = errors.New("no password")

// passwordSource says where one password comes from: a file flag, else
// an environment variable, else the terminal (no echo). The SSH login and
// the vSphere login each have their own, since a host's root password
// and a vCenter user's are different secrets.
type passwordSource struct {
	flag, file, env string
	// what the prompt asks for, e.g. "Password" or "vCenter password".
	what string
	w    io.Writer
}

// sshPassword is the host's SSH password: --password-file, else
// $ESXSINK_PASSWORD, else a prompt.
func sshPassword(file string, w io.Writer) passwordSource {
	return passwordSource{flag: "--password-file", file: file, env: "ESXSINK_PASSWORD", what: "Password", w: w}
}

// vcenterPassword is the vSphere user's password: --vcenter-password-file,
// else $ESXSINK_VCENTER_PASSWORD, else a prompt.
func vcenterPassword(file string, w io.Writer) passwordSource {
	return passwordSource{flag: "--vcenter-password-file", file: file, env: "ESXSINK_VCENTER_PASSWORD", what: "vSphere password", w: w}
}

// get returns the password of user at host.
func (s passwordSource) get(user, host string) (string, error) {
	if s.file != "" {
		b, err := os.ReadFile(s.file)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", s.flag, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if p, ok := os.LookupEnv(s.env); ok {
		return p, nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return "", fmt.Errorf("%w: give %s or set %s", errNoPassword, s.flag, s.env)
	}
	fmt.Fprintf(s.w, "%s for %s@%s: ", s.what, user, host)
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(s.w)
	return string(b), err
}

// passwordFunc answers the SSH login's password prompts.
func passwordFunc(file string, w io.Writer) orchestrator.PasswordFunc {
	src := sshPassword(file, w)
	return func(_ context.Context, user, host, _ string) (string, error) { return src.get(user, host) }
}

// hostPasswords are the hosts' own SSH passwords of a fleet run
// (--host-passwords), by inventory name or management address.
type hostPasswords map[string]string

// readHostPasswords reads lines "HOST PASSWORD": HOST is a host's
// inventory name or management address, the password the rest of the
// line after the blanks that follow HOST (so it may hold blanks itself).
// Blank lines and lines starting with # are skipped.
func readHostPasswords(path string) (hostPasswords, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --host-passwords: %w", err)
	}
	out := hostPasswords{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		line = strings.TrimLeft(line, " \t")
		blank := strings.IndexAny(line, " \t")
		if blank < 0 {
			blank = len(line)
		}
		host, pass := line[:blank], strings.TrimLeft(line[blank:], " \t")
		if pass == "" {
			// The line is not repeated: it may hold a password.
			return nil, fmt.Errorf("--host-passwords %s, line %d: want HOST PASSWORD (the host's inventory name or address, blanks, its root password)", path, i+1)
		}
		if _, dup := out[host]; dup {
			return nil, fmt.Errorf("--host-passwords %s, line %d: %s is given a password twice", path, i+1, host)
		}
		out[host] = pass
	}
	return out, nil
}

// forHost answers the SSH login of the fleet host name (at addr) from
// its own line when there is one, else from fallback; ask serialises
// terminal prompts, since several hosts may log in at once.
func (p hostPasswords) forHost(name, addr string, fallback orchestrator.PasswordFunc, ask *sync.Mutex) orchestrator.PasswordFunc {
	return func(ctx context.Context, user, host, prompt string) (string, error) {
		for _, key := range []string{name, addr} {
			if pass, ok := p[key]; ok {
				return pass, nil
			}
		}
		ask.Lock()
		defer ask.Unlock()
		return fallback(ctx, user, name+" ("+host+")", prompt)
	}
}
