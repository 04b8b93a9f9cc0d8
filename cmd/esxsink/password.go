package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

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
