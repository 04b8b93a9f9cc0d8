package vsphere

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/custody"
)

// PasswordFunc returns the password of user at endpoint (host:port). It
// is called only once the endpoint's certificate is trusted.
type PasswordFunc func(ctx context.Context, user, endpoint string) (string, error)

// Recorder is the custody log (a *hashlog.Log).
type Recorder interface {
	Append(typ string, data any) (custody.Record, error)
}

// Config says how to reach and trust a vCenter or an ESXi host's API.
type Config struct {
	// URL is HOST, HOST:PORT or https://HOST[:PORT]/sdk.
	URL  string
	User string
	// Password is asked once the endpoint is trusted. Required.
	Password PasswordFunc
	// Thumbprint pins the endpoint's certificate (SHA-256, or SHA-1 for
	// older consoles; hex with or without colons). CAFile is a PEM file
	// of the CA that signed it instead. With neither, Dial refuses with
	// an *UnknownThumbprintError naming the certificate's thumbprint.
	Thumbprint string
	CAFile     string
	// ConnectTimeout bounds each TCP connect and TLS handshake (default
	// 20 s); ctx bounds everything else.
	ConnectTimeout time.Duration
	// Log is the custody log: the session is recorded there and every
	// change made through the Client. Without one the Client only reads.
	Log   Recorder
	RunID string
	// Logger receives diagnostics (default: discarded).
	Logger *slog.Logger
}

// Errors of Dial, for the CLI to turn into advice.
var (
	// ErrLoginRefused: the endpoint refused the user name and password.
	ErrLoginRefused = errors.New("vSphere login refused")
	// ErrNoUser: no user name was given.
	ErrNoUser = errors.New("no vSphere user given")
	// ErrNoPassword: Config.Password is nil.
	ErrNoPassword = errors.New("no way to get the vSphere password")
)

// Client is a logged-in session on a vCenter or an ESXi host's API.
type Client struct {
	vim      *vim25.Client
	sessions *session.Manager
	ep       endpoint
	runID    string
	log      Recorder
	logger   *slog.Logger
	conn     custody.VCenterConnected
}

// Dial connects, checks the endpoint's certificate, asks for the
// password and logs in. With Config.Log set, the session is recorded
// (vcenter.connected) before Dial returns.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	ep, err := parseEndpoint(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.User == "" {
		return nil, fmt.Errorf("log in to %s: %w", ep.addr, ErrNoUser)
	}
	if cfg.Password == nil {
		return nil, fmt.Errorf("log in to %s: %w", ep.addr, ErrNoPassword)
	}
	tr, err := newTrust(ep.addr, ep.name, cfg.Thumbprint, cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("trust for %s: %w", ep.addr, err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	timeout := cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}

	sc := soap.NewClient(ep.url, false)
	t := sc.DefaultTransport()
	t.TLSClientConfig = tr.tlsConfig()
	// govmomi's own TLS dial has no context and falls back to its own
	// thumbprint check; ours has the context and only trust's check.
	t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: tr.tlsConfig()}
		return d.DialContext(ctx, network, addr)
	}
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		if refused := tr.refusal(); refused != nil {
			return nil, refused
		}
		return nil, fmt.Errorf("reach the vSphere API at %s: %w (is that a vCenter or an ESXi host, and is its HTTPS port reachable from here?)", ep.url, err)
	}
	password, err := cfg.Password(ctx, cfg.User, ep.addr)
	if err != nil {
		return nil, fmt.Errorf("password for %s at %s: %w", cfg.User, ep.addr, err)
	}
	sm := session.NewManager(vc)
	if err := sm.Login(ctx, url.UserPassword(cfg.User, password)); err != nil {
		if fault.Is(err, &types.InvalidLogin{}) {
			return nil, fmt.Errorf("%w: %s refused user %q and its password: check both (vCenter users are often user@vsphere.local; an ESXi host's own API takes root)", ErrLoginRefused, ep.addr, cfg.User)
		}
		return nil, fmt.Errorf("log in to %s as %s: %w", ep.addr, cfg.User, err)
	}
	about := vc.ServiceContent.About
	c := &Client{
		vim: vc, sessions: sm, ep: ep, runID: cfg.RunID, log: cfg.Log, logger: logger,
		conn: custody.VCenterConnected{
			Endpoint: ep.addr, URL: ep.url.String(), User: cfg.User, RunID: cfg.RunID,
			Thumbprint: tr.thumbprint(), TrustedBy: tr.trustedBy(),
			Product: about.FullName, Version: about.Version, Build: about.Build, APIType: about.ApiType, InstanceUUID: about.InstanceUuid,
		},
	}
	logger.Info("vSphere session opened", "endpoint", ep.addr, "user", cfg.User, "api", about.ApiType, "version", about.Version, "build", about.Build)
	if c.log != nil {
		if _, err := c.log.Append(custody.TypeVCenterConnected, c.conn); err != nil {
			c.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("record the session on %s in the custody log: %w", ep.addr, err)
		}
	}
	return c, nil
}

// Connected is what the session's vcenter.connected record says: the
// endpoint, the certificate trusted and what the endpoint is.
func (c *Client) Connected() custody.VCenterConnected { return c.conn }

// IsVCenter says whether the endpoint is a vCenter (else an ESXi host's
// own API).
func (c *Client) IsVCenter() bool { return c.vim.IsVC() }

// Close logs out; the session is gone from the endpoint's session list.
func (c *Client) Close(ctx context.Context) error {
	err := c.sessions.Logout(ctx)
	c.vim.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("log out of %s: %w", c.ep.addr, err)
	}
	return nil
}
