package esxsim

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"mvdan.cc/sh/v3/syntax"
)

// serverConfig builds the SSH policy: password, keyboard-interactive (the
// ESXi default, a "Password: " prompt) and public keys, for one user.
func (h *Host) serverConfig() *ssh.ServerConfig {
	checkPW := func(user string, pw []byte) bool {
		return h.cfg.Password != "" && user == h.cfg.User &&
			subtle.ConstantTimeCompare(pw, []byte(h.cfg.Password)) == 1
	}
	c := &ssh.ServerConfig{
		ServerVersion: h.sc.Host.SSHVersion,
		MaxAuthTries:  6,
		PasswordCallback: func(cm ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if err := h.lockdownRefusal(cm); err != nil {
				return nil, err
			}
			if checkPW(cm.User(), pw) {
				return &ssh.Permissions{Extensions: map[string]string{"auth": "password"}}, nil
			}
			h.authLog(cm, "password", false)
			return nil, errors.New("password rejected")
		},
		KeyboardInteractiveCallback: func(cm ssh.ConnMetadata, chal ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			ans, err := chal(cm.User(), "", []string{"Password: "}, []bool{false})
			if err != nil {
				return nil, err
			}
			if err := h.lockdownRefusal(cm); err != nil {
				return nil, err
			}
			if len(ans) == 1 && checkPW(cm.User(), []byte(ans[0])) {
				return &ssh.Permissions{Extensions: map[string]string{"auth": "keyboard-interactive"}}, nil
			}
			h.authLog(cm, "keyboard-interactive", false)
			return nil, errors.New("password rejected")
		},
		PublicKeyCallback: func(cm ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if err := h.lockdownRefusal(cm); err != nil {
				return nil, err
			}
			if cm.User() == h.cfg.User {
				for _, a := range h.authKeys {
					if a.Type() == k.Type() && subtle.ConstantTimeCompare(a.Marshal(), k.Marshal()) == 1 {
						return &ssh.Permissions{Extensions: map[string]string{"auth": "publickey", "key": ssh.FingerprintSHA256(k)}}, nil
					}
				}
			}
			return nil, errors.New("key rejected")
		},
	}
	if b := h.sc.Host.Banner; b != "" {
		c.BannerCallback = func(ssh.ConnMetadata) string { return b }
	}
	c.AddHostKey(h.hostKey)
	return c
}

// lockdownRefusal refuses a user lockdown mode keeps out; ESXi's sshd
// answers such a login like a wrong password.
func (h *Host) lockdownRefusal(cm ssh.ConnMetadata) error {
	if h.loginAllowed(cm.User()) {
		return nil
	}
	h.log.Info("ssh login refused: lockdown mode", "user", cm.User(), "mode", h.Lockdown(), "remote", cm.RemoteAddr().String())
	return errors.New("lockdown mode")
}

func (h *Host) authLog(cm ssh.ConnMetadata, method string, ok bool) {
	h.log.Info("ssh authentication failed", "user", cm.User(), "method", method, "remote", cm.RemoteAddr().String())
}

func (h *Host) acceptLoop(ln net.Listener) {
	defer h.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if h.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			h.log.Warn("ssh accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		h.connMu.Lock()
		if h.closed.Load() {
			h.connMu.Unlock()
			nc.Close()
			return
		}
		h.conns[nc] = struct{}{}
		h.connMu.Unlock()
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.serveConn(nc)
			h.connMu.Lock()
			delete(h.conns, nc)
			h.connMu.Unlock()
		}()
	}
}

// sshConn is one client connection; its sessions share an output count
// for the ssh_drop fault.
type sshConn struct {
	h      *Host
	nc     net.Conn
	sc     *ssh.ServerConn
	sent   atomic.Int64
	ctx    context.Context
	cancel context.CancelFunc
}

func (h *Host) serveConn(nc net.Conn) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	sc, chans, reqs, err := ssh.NewServerConn(nc, h.sshConf)
	if err != nil {
		h.log.Debug("ssh handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
		return
	}
	nc.SetDeadline(time.Time{})
	c := &sshConn{h: h, nc: nc, sc: sc}
	c.ctx, c.cancel = context.WithCancel(h.ctx)
	defer c.cancel()
	go func() {
		sc.Wait()
		c.cancel()
	}()
	go ssh.DiscardRequests(reqs)
	h.log.Info("ssh login", "user", sc.User(), "remote", nc.RemoteAddr().String(), "auth", sc.Permissions.Extensions["auth"])
	var wg sync.WaitGroup
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "unsupported channel type")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.session(ch, creqs)
		}()
	}
	c.cancel()
	wg.Wait()
}

// countingWriter counts a connection's output and cuts the connection
// when an ssh_drop fault's threshold is crossed.
type countingWriter struct {
	c   *sshConn
	w   io.Writer
	pty bool
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n := len(p)
	out := p
	if w.pty {
		out = []byte(strings.ReplaceAll(strings.ReplaceAll(string(p), "\r\n", "\n"), "\n", "\r\n"))
	}
	total := w.c.sent.Add(int64(n))
	if a := w.c.h.faults.take(FaultSSHDrop, func(a *activeFault) bool { return a.Command == "" && total >= int64(a.AfterBytes) }); a != nil {
		w.c.h.log.Info("fault: dropping ssh connection", "after_bytes", total)
		w.c.nc.Close()
		w.c.cancel()
		return 0, io.ErrClosedPipe
	}
	if _, err := w.w.Write(out); err != nil {
		return 0, err
	}
	return n, nil
}

type ptyReq struct {
	Term          string
	Cols, Rows    uint32
	Width, Height uint32
	Modes         string
}

func (c *sshConn) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	h := c.h
	s := &session{h: h, id: h.nextSess.Add(1), user: c.sc.User(), remote: c.nc.RemoteAddr().String(), width: 80}
	for n := h.open.Add(1); ; {
		m := h.maxOpen.Load()
		if n <= m || h.maxOpen.CompareAndSwap(m, n) {
			break
		}
	}
	defer h.open.Add(-1)
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	started := false
	done := make(chan struct{})
	for {
		var req *ssh.Request
		var ok bool
		select {
		case req, ok = <-reqs:
		case <-done:
			return
		case <-ctx.Done():
			return
		}
		if !ok {
			if started {
				select {
				case <-done:
				case <-ctx.Done():
				}
			}
			return
		}
		switch req.Type {
		case "pty-req":
			var p ptyReq
			if err := ssh.Unmarshal(req.Payload, &p); err == nil {
				s.pty, s.term = true, p.Term
				if p.Cols > 0 {
					s.width = int(p.Cols)
				}
			}
			req.Reply(true, nil)
		case "window-change":
			var w struct{ Cols, Rows, Width, Height uint32 }
			if ssh.Unmarshal(req.Payload, &w) == nil && w.Cols > 0 {
				s.width = int(w.Cols)
			}
			if req.WantReply {
				req.Reply(true, nil)
			}
		case "env":
			req.Reply(true, nil)
		case "exec", "shell":
			if started {
				req.Reply(false, nil)
				continue
			}
			var line string
			if req.Type == "exec" {
				var p struct{ Command string }
				if err := ssh.Unmarshal(req.Payload, &p); err != nil {
					req.Reply(false, nil)
					continue
				}
				line = p.Command
			}
			req.Reply(true, nil)
			started = true
			kind := req.Type
			go func() {
				defer close(done)
				var code int
				if kind == "exec" {
					s.kind = "exec"
					code = c.runExec(ctx, s, ch, line)
				} else {
					s.kind = "shell"
					code = c.runShell(ctx, s, ch)
				}
				ch.CloseWrite()
				ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
			}()
		case "subsystem":
			var p struct{ Name string }
			if started || ssh.Unmarshal(req.Payload, &p) != nil || p.Name != sftpSubsystem {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			started = true
			s.kind = "subsystem"
			go func() {
				defer close(done)
				code := c.serveSFTP(ctx, s, ch)
				ch.CloseWrite()
				ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
			}()
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
}

func (c *sshConn) runExec(ctx context.Context, s *session, ch ssh.Channel, line string) int {
	drop := c.h.faults.take(FaultSSHDrop, func(a *activeFault) bool { return a.Command != "" && strings.HasPrefix(line, a.Command) }) != nil
	var out, errw io.Writer = &countingWriter{c: c, w: ch, pty: s.pty}, &countingWriter{c: c, w: ch.Stderr(), pty: s.pty}
	if drop {
		// The command runs to its end; its output never leaves the host.
		out, errw = io.Discard, io.Discard
	}
	if s.pty && !drop {
		errw = out
	}
	code := s.runCommand(ctx, line, ch, out, errw)
	if drop {
		c.h.log.Info("fault: dropping ssh connection after a command", "command", line)
		c.nc.Close()
		c.cancel()
	}
	return code
}

// runShell is an interactive shell: the motd banner, a prompt, line
// editing when the client asked for a terminal.
func (c *sshConn) runShell(ctx context.Context, s *session, ch ssh.Channel) int {
	out := &countingWriter{c: c, w: ch, pty: s.pty}
	var errw io.Writer = &countingWriter{c: c, w: ch.Stderr(), pty: s.pty}
	if s.pty {
		errw = out
		io.WriteString(out, motd)
	}
	r, err := s.newRunner(ctx, strings.NewReader(""), out, errw)
	if err != nil {
		return 1
	}
	lr := &lineReader{r: ch, echo: s.pty, out: ch}
	var buf strings.Builder
	last := 0
	for {
		if s.pty {
			if buf.Len() > 0 {
				io.WriteString(out, "> ")
			} else {
				io.WriteString(out, prompt(s, r.Dir))
			}
		}
		line, err := lr.readLine()
		if err != nil {
			if s.pty && errors.Is(err, errInterrupt) {
				buf.Reset()
				continue
			}
			return last
		}
		buf.WriteString(line)
		buf.WriteString("\n")
		text := buf.String()
		prog, perr := syntax.NewParser(syntax.Variant(syntax.LangPOSIX)).Parse(strings.NewReader(text), "")
		if perr != nil && syntax.IsIncomplete(perr) {
			continue
		}
		buf.Reset()
		if strings.TrimSpace(text) == "" {
			continue
		}
		start, t0 := s.h.now(), time.Now()
		if perr != nil {
			fmt.Fprintf(errw, "sh: syntax error: %s\n", syntaxMessage(perr))
			last = 2
		} else {
			last = exitOf(r.Run(ctx, prog))
		}
		s.h.foot.add(Command{Time: start, Session: s.id, User: s.user, Remote: s.remote, Kind: "shell",
			Line: strings.TrimRight(text, "\n"), Exit: last, Duration: time.Since(t0)})
		if r.Exited() || ctx.Err() != nil {
			return last
		}
	}
}

// prompt is ESXi's PS1, [user@host:dir] with ~ for root's home (/).
func prompt(s *session, dir string) string {
	if dir == "/" {
		dir = "~"
	}
	return fmt.Sprintf("[%s@%s:%s] ", s.user, s.h.sc.Host.Hostname, dir)
}

var errInterrupt = errors.New("interrupt")

// lineReader reads lines from a terminal or a plain stream; with echo it
// behaves like a cooked terminal: it echoes, handles backspace, ^C, ^D
// and ignores escape sequences.
type lineReader struct {
	r    io.Reader
	out  io.Writer
	echo bool
	buf  []byte
	pend []byte
}

func (l *lineReader) readByte() (byte, error) {
	if len(l.pend) == 0 {
		b := make([]byte, 4096)
		n, err := l.r.Read(b)
		if n == 0 {
			if err == nil {
				err = io.EOF
			}
			return 0, err
		}
		l.pend = b[:n]
	}
	c := l.pend[0]
	l.pend = l.pend[1:]
	return c, nil
}

func (l *lineReader) readLine() (string, error) {
	l.buf = l.buf[:0]
	for {
		c, err := l.readByte()
		if err != nil {
			if len(l.buf) > 0 && !l.echo {
				return string(l.buf), nil
			}
			return "", err
		}
		if !l.echo {
			if c == '\n' {
				return strings.TrimSuffix(string(l.buf), "\r"), nil
			}
			l.buf = append(l.buf, c)
			continue
		}
		switch c {
		case '\r', '\n':
			io.WriteString(l.out, "\r\n")
			return string(l.buf), nil
		case 0x7f, 0x08:
			if len(l.buf) > 0 {
				l.buf = l.buf[:len(l.buf)-1]
				io.WriteString(l.out, "\b \b")
			}
		case 0x03:
			io.WriteString(l.out, "^C\r\n")
			return "", errInterrupt
		case 0x04:
			if len(l.buf) == 0 {
				io.WriteString(l.out, "\r\n")
				return "", io.EOF
			}
		case 0x1b:
			// Skip an escape sequence (arrow keys): ESC [ ... final byte.
			if n, err := l.readByte(); err == nil && (n == '[' || n == 'O') {
				for {
					f, err := l.readByte()
					if err != nil || (f >= 0x40 && f <= 0x7e) {
						break
					}
				}
			}
		default:
			if c >= 0x20 {
				l.buf = append(l.buf, c)
				l.out.Write([]byte{c})
			}
		}
	}
}
