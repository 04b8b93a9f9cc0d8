package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// PasswordFunc returns the password for user@host; prompt is the server's
// question for keyboard-interactive ("Password: " on ESXi), or "" for
// password auth. The CLI asks the examiner (no echo), reads a file or the
// environment; tests return a constant.
type PasswordFunc func(ctx context.Context, user, host, prompt string) (string, error)

// SSHOptions says how to reach and authenticate to the host.
type SSHOptions struct {
	// Addr is host:port (port 22 if omitted).
	Addr string
	User string
	// Password answers password and keyboard-interactive auth (ESXi's
	// default). Nil disables both.
	Password PasswordFunc
	// KeyFiles are private keys in OpenSSH/PEM format (unencrypted).
	KeyFiles []string
	// Agent uses the ssh-agent at SSH_AUTH_SOCK.
	Agent bool
	// HostKey checks the host's key: KnownHosts or PinnedHostKey. Required.
	HostKey ssh.HostKeyCallback
	// ConnectTimeout bounds dialing and the handshake (default 20 s).
	ConnectTimeout time.Duration
	// Keepalive is the interval of keepalive requests; a host that stops
	// answering them is treated as lost (default 15 s, negative disables).
	Keepalive time.Duration
}

// UnknownHostKeyError refuses a host whose key nobody has vouched for.
type UnknownHostKeyError struct {
	Host        string
	KeyType     string
	Fingerprint string
}

func (e *UnknownHostKeyError) Error() string {
	return fmt.Sprintf("the SSH host key of %s is not known (%s %s). Check it on the host's console "+
		"(ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub), then pin that fingerprint or add the host to a known_hosts file",
		e.Host, e.KeyType, e.Fingerprint, keyFileType(e.KeyType))
}

// Errors of the SSH options, for the CLI to turn into advice naming its
// flags.
var (
	// ErrBadFingerprint: a pinned host key is not a SHA256 fingerprint.
	ErrBadFingerprint = errors.New("not a SHA256 host key fingerprint")
	// ErrNoHostKeyPolicy: nothing says which host key to trust.
	ErrNoHostKeyPolicy = errors.New("ssh: no host key policy: neither a known_hosts file nor a pinned fingerprint")
	// ErrNoAgent: the ssh-agent was asked for but SSH_AUTH_SOCK is not set.
	ErrNoAgent = errors.New("ssh-agent: SSH_AUTH_SOCK is not set; start ssh-agent and ssh-add your key")
	// ErrLoginRefused: the host refused every login method offered.
	ErrLoginRefused = errors.New("ssh: login refused")
	// ErrNoLogin: no password, key or agent was given.
	ErrNoLogin = errors.New("ssh: no way to log in: no password, key or agent was given")
	// ErrEncryptedKey: a key file needs a passphrase (wrapped with its
	// name); an ssh-agent holding the key can use it.
	ErrEncryptedKey = errors.New("ssh key is encrypted")
)

// ChangedHostKeyError refuses a host whose key differs from the recorded
// one: a reinstalled host, or someone in the middle.
type ChangedHostKeyError struct {
	Host        string
	KeyType     string
	Fingerprint string
	Expected    []string
}

func (e *ChangedHostKeyError) Error() string {
	return fmt.Sprintf("WARNING: THE SSH HOST KEY OF %s HAS CHANGED: it offers %s %s but %s was recorded. "+
		"This can mean the connection is intercepted. Do not continue until the key is confirmed on the host's console",
		e.Host, e.KeyType, e.Fingerprint, strings.Join(e.Expected, ", "))
}

func keyFileType(t string) string {
	switch t {
	case ssh.KeyAlgoED25519:
		return "ed25519"
	case ssh.KeyAlgoRSA:
		return "rsa"
	}
	if strings.HasPrefix(t, "ecdsa") {
		return "ecdsa"
	}
	return "*"
}

// KnownHosts checks host keys against an OpenSSH known_hosts file.
func KnownHosts(path string) (ssh.HostKeyCallback, error) {
	cb, err := knownhosts.New(path)
	if err != nil {
		return nil, fmt.Errorf("read known hosts %s: %w", path, err)
	}
	return func(host string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(host, remote, key)
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) {
			fp := ssh.FingerprintSHA256(key)
			if len(ke.Want) == 0 {
				return &UnknownHostKeyError{Host: host, KeyType: key.Type(), Fingerprint: fp}
			}
			var want []string
			for _, w := range ke.Want {
				want = append(want, fmt.Sprintf("%s %s (%s:%d)", w.Key.Type(), ssh.FingerprintSHA256(w.Key), w.Filename, w.Line))
			}
			return &ChangedHostKeyError{Host: host, KeyType: key.Type(), Fingerprint: fp, Expected: want}
		}
		return err
	}, nil
}

// PinnedHostKey accepts exactly the key with this SHA256 fingerprint
// ("SHA256:..."), as printed by ssh-keygen -l.
func PinnedHostKey(fingerprint string) (ssh.HostKeyCallback, error) {
	if !strings.HasPrefix(fingerprint, "SHA256:") || len(fingerprint) < 20 {
		return nil, fmt.Errorf("host key %q: %w: want one like SHA256:AbC... (ssh-keygen -lf on the host's key)", fingerprint, ErrBadFingerprint)
	}
	return func(host string, _ net.Addr, key ssh.PublicKey) error {
		fp := ssh.FingerprintSHA256(key)
		if fp == fingerprint {
			return nil
		}
		return &ChangedHostKeyError{Host: host, KeyType: key.Type(), Fingerprint: fp, Expected: []string{fingerprint + " (pinned)"}}
	}, nil
}

// Conn is an authenticated SSH connection to the host. Several commands
// may run at once, each in its own session.
type Conn struct {
	client      *ssh.Client
	addr        string
	fingerprint string
	keyType     string
	banner      string
	done        chan struct{}
	closeOnce   sync.Once
	lost        error
	mu          sync.Mutex
}

// DialSSH connects, checks the host key and authenticates.
func DialSSH(ctx context.Context, o SSHOptions) (*Conn, error) {
	if o.HostKey == nil {
		return nil, ErrNoHostKeyPolicy
	}
	addr := o.Addr
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "22")
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 20 * time.Second
	}
	if o.Keepalive == 0 {
		o.Keepalive = 15 * time.Second
	}
	c := &Conn{addr: addr, done: make(chan struct{})}
	auths, closeAgent, err := authMethods(ctx, o, addr)
	if err != nil {
		return nil, err
	}
	defer closeAgent()
	cfg := &ssh.ClientConfig{
		User: o.User,
		Auth: auths,
		HostKeyCallback: func(host string, remote net.Addr, key ssh.PublicKey) error {
			c.fingerprint, c.keyType = ssh.FingerprintSHA256(key), key.Type()
			return o.HostKey(host, remote, key)
		},
		BannerCallback: func(msg string) error { c.banner += msg; return nil },
		Timeout:        o.ConnectTimeout,
	}
	dctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ssh: connect to %s: %w (is SSH enabled on the host? Host > Actions > Services > Enable Secure Shell)", addr, err)
	}
	nc.SetDeadline(time.Now().Add(o.ConnectTimeout))
	sc, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		nc.Close()
		var uk *UnknownHostKeyError
		var ck *ChangedHostKeyError
		if errors.As(err, &uk) || errors.As(err, &ck) {
			return nil, unwrapHostKeyError(err)
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			offered, check := offeredLogins(o)
			return nil, fmt.Errorf("%w: %s@%s refused every login method offered (%s): check the user and %s: %v", ErrLoginRefused, o.User, addr, offered, check, err)
		}
		return nil, fmt.Errorf("ssh: handshake with %s: %w", addr, err)
	}
	nc.SetDeadline(time.Time{})
	c.client = ssh.NewClient(sc, chans, reqs)
	go func() {
		err := c.client.Wait()
		c.markLost(fmt.Errorf("ssh connection to %s lost: %v", addr, err))
	}()
	if o.Keepalive > 0 {
		go c.keepalive(o.Keepalive)
	}
	return c, nil
}

// unwrapHostKeyError returns our typed error from inside ssh's wrapping,
// so the examiner reads the advice first.
func unwrapHostKeyError(err error) error {
	var uk *UnknownHostKeyError
	if errors.As(err, &uk) {
		return uk
	}
	var ck *ChangedHostKeyError
	if errors.As(err, &ck) {
		return ck
	}
	return err
}

func authMethods(ctx context.Context, o SSHOptions, addr string) ([]ssh.AuthMethod, func(), error) {
	var methods []ssh.AuthMethod
	closer := func() {}
	var signers []ssh.Signer
	for _, kf := range o.KeyFiles {
		b, err := os.ReadFile(kf)
		if err != nil {
			return nil, closer, fmt.Errorf("ssh key %s: %w", kf, err)
		}
		s, err := ssh.ParsePrivateKey(b)
		if err != nil {
			var pp *ssh.PassphraseMissingError
			if errors.As(err, &pp) {
				return nil, closer, fmt.Errorf("%s: %w: load it into ssh-agent (ssh-add %s) and use the agent", kf, ErrEncryptedKey, kf)
			}
			return nil, closer, fmt.Errorf("ssh key %s: %w", kf, err)
		}
		signers = append(signers, s)
	}
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	if o.Agent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, closer, ErrNoAgent
		}
		ac, err := net.Dial("unix", sock)
		if err != nil {
			return nil, closer, fmt.Errorf("ssh-agent at %s: %w", sock, err)
		}
		closer = func() { ac.Close() }
		methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(ac).Signers))
	}
	if o.Password != nil {
		host, _, _ := net.SplitHostPort(addr)
		// ESXi answers keyboard-interactive by default; password auth is the
		// fallback some hosts are configured for. Ask only once.
		var once sync.Once
		var pw string
		var pwErr error
		get := func(prompt string) (string, error) {
			once.Do(func() { pw, pwErr = o.Password(ctx, o.User, host, prompt) })
			return pw, pwErr
		}
		methods = append(methods, ssh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
			answers := make([]string, len(questions))
			for i, q := range questions {
				if echos[i] {
					continue // not a secret question; ESXi asks none
				}
				p, err := get(q)
				if err != nil {
					return nil, err
				}
				answers[i] = p
			}
			return answers, nil
		}))
		methods = append(methods, ssh.PasswordCallback(func() (string, error) { return get("") }))
	}
	if len(methods) == 0 {
		return nil, closer, ErrNoLogin
	}
	return methods, closer, nil
}

func (c *Conn) keepalive(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			res := make(chan error, 1)
			go func() {
				_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
				res <- err
			}()
			select {
			case err := <-res:
				if err != nil {
					c.markLost(fmt.Errorf("ssh keepalive to %s failed: %w", c.addr, err))
					c.client.Close()
					return
				}
			case <-time.After(2 * every):
				c.markLost(fmt.Errorf("ssh: %s stopped answering keepalives", c.addr))
				c.client.Close()
				return
			case <-c.done:
				return
			}
		}
	}
}

// ErrConnLost is in the chain of every error that comes from the SSH
// connection having ended (dropped, keepalives unanswered, closed): what
// a redial can mend, unlike a command that failed.
var ErrConnLost = errors.New("the SSH connection is lost")

// lostError says why the connection ended, in its own words, and is
// ErrConnLost too.
type lostError struct{ err error }

func (e *lostError) Error() string   { return e.err.Error() }
func (e *lostError) Unwrap() []error { return []error{ErrConnLost, e.err} }

func (c *Conn) markLost(err error) {
	c.mu.Lock()
	if c.lost == nil {
		c.lost = &lostError{err}
	}
	c.mu.Unlock()
	c.closeOnce.Do(func() { close(c.done) })
}

// Lost reports why the connection ended, or nil while it is up.
func (c *Conn) Lost() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

// Done is closed when the connection ends.
func (c *Conn) Done() <-chan struct{} { return c.done }

// HostKeyFingerprint is the SHA256 fingerprint of the host key accepted.
func (c *Conn) HostKeyFingerprint() string { return c.fingerprint }

// HostKeyType is the algorithm of the accepted host key.
func (c *Conn) HostKeyType() string { return c.keyType }

// Banner is what the host showed before login (ESXi's shell warning).
func (c *Conn) Banner() string { return c.banner }

// Addr is the host:port connected to.
func (c *Conn) Addr() string { return c.addr }

// LocalAddr is our address as the host sees this connection: the address
// an embedded sink should listen on and tell the host to mount.
func (c *Conn) LocalAddr() net.Addr { return c.client.LocalAddr() }

// SSHClient is the underlying client, for protocols that open their own
// channels on the connection (the SFTP transport).
func (c *Conn) SSHClient() *ssh.Client { return c.client }

// Close ends the connection.
func (c *Conn) Close() error {
	c.markLost(errors.New("closed"))
	return c.client.Close()
}

// offeredLogins names the login methods o offers, and what to check when
// the host refuses them all: only what was really offered.
func offeredLogins(o SSHOptions) (offered, check string) {
	var methods, checks []string
	if o.Password != nil {
		methods = append(methods, "password (keyboard-interactive and password)")
		checks = append(checks, "the password")
	}
	if n := len(o.KeyFiles); n > 0 {
		methods = append(methods, fmt.Sprintf("%d key file(s)", n))
		checks = append(checks, "that the key is in the host's /etc/ssh/keys-<user>/authorized_keys")
	}
	if o.Agent {
		methods = append(methods, "the ssh-agent's keys")
		checks = append(checks, "that the agent holds an authorized key")
	}
	return strings.Join(methods, ", "), strings.Join(checks, ", or ")
}
