package esxsim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// Config says how a simulated host runs. Zero values take the documented
// defaults.
type Config struct {
	// Listen is the SSH address (default 127.0.0.1:0, a random port).
	Listen string
	// User and Password override the scenario's login.
	User, Password string
	// AuthorizedKeys are accepted for public-key login, besides the
	// scenario's.
	AuthorizedKeys []ssh.PublicKey
	// HostKey is the SSH host key. When nil, HostKeyFile is read, or
	// created with a new key when it does not exist; with neither, a key
	// is generated for this run.
	HostKey     ssh.Signer
	HostKeyFile string
	// WorkDir holds files the host writes for real (snapshot deltas).
	// Default: a temporary folder removed by Close.
	WorkDir string
	// PortmapPort is the TCP port the host's NFS client asks for mountd
	// (ESXi: 111). Tests point it at the sink's builtin portmapper.
	PortmapPort int
	// MountTimeout bounds esxcfg-nas -a (default 15 s).
	MountTimeout time.Duration
	// Heartbeat is the interval of the NFS heartbeat GETATTRs (ESXi's
	// NFS.HeartbeatFrequency, default 12 s).
	Heartbeat time.Duration
	// NFSInFlight is how many WRITEs a file copy keeps outstanding
	// (default 8).
	NFSInFlight int
	// Now is the clock (default: the scenario's start time, advancing with
	// real time).
	Now    func() time.Time
	Logger *slog.Logger

	// fleet links the hosts of one fleet (NewFleet): one tree lock, and
	// the shared datastores each built once.
	fleet *fleetShare
}

// Host is a simulated ESXi host: an SSH server with an ESXi-like shell
// over a simulated file tree of datastores, VMs and devices.
type Host struct {
	cfg    Config
	sc     *Scenario
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	now    func() time.Time

	fs      *vfs
	faults  *faultSet
	foot    *footprint
	work    string
	ownWork bool

	mu       sync.Mutex // guards vms, mounts, snapshot state
	vms      []*vm
	dss      []*datastore
	devs     []*device
	mounts   map[string]*nfsMount
	recorded map[string]Recorded
	// frozen is each disk as a snapshot froze it, by the canonical path
	// of the descriptor that became read-only (DiskImage).
	frozen map[string]frozenChain
	opMu   sync.Mutex // serialises VM operations (snapshot create/remove)

	hostKey  ssh.Signer
	authKeys []ssh.PublicKey
	svc      sshService
	sshConf  *ssh.ServerConfig
	wg       sync.WaitGroup
	connMu   sync.Mutex
	conns    map[net.Conn]struct{}
	nextSess atomic.Int64
	open     atomic.Int64
	maxOpen  atomic.Int64
	closed   atomic.Bool
}

// New builds a host from a scenario; Start serves it.
func New(sc *Scenario, cfg Config) (*Host, error) {
	if sc == nil {
		return nil, errors.New("esxsim: no scenario")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.User == "" {
		cfg.User = sc.Host.User
	}
	if cfg.Password == "" {
		cfg.Password = sc.Host.Password
	}
	if cfg.PortmapPort == 0 {
		cfg.PortmapPort = 111
	}
	if cfg.MountTimeout == 0 {
		cfg.MountTimeout = 15 * time.Second
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 12 * time.Second
	}
	if cfg.NFSInFlight == 0 {
		cfg.NFSInFlight = 8
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := &Host{cfg: cfg, sc: sc, log: cfg.Logger, mounts: map[string]*nfsMount{}, conns: map[net.Conn]struct{}{}, frozen: map[string]frozenChain{}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	if cfg.Now != nil {
		h.now = cfg.Now
	} else {
		t0, start := time.Now(), sc.Start
		h.now = func() time.Time { return start.Add(time.Since(t0)).UTC() }
	}
	h.fs = newVFS(h.now, cfg.fleet.treeLock())
	h.faults = &faultSet{canon: h.canonPath, sleep: h.sleep}
	h.foot = newFootprint(h)
	if cfg.WorkDir == "" {
		d, err := os.MkdirTemp("", "esxsim-")
		if err != nil {
			return nil, fmt.Errorf("esxsim: work folder: %w", err)
		}
		h.work, h.ownWork = d, true
	} else {
		if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
			return nil, fmt.Errorf("esxsim: work folder: %w", err)
		}
		h.work = cfg.WorkDir
	}
	if err := h.setupKeys(); err != nil {
		h.cleanup()
		return nil, err
	}
	if err := h.build(); err != nil {
		h.cleanup()
		return nil, fmt.Errorf("esxsim: build host from scenario: %w", err)
	}
	for _, f := range sc.Faults {
		if err := h.faults.add(f); err != nil {
			h.cleanup()
			return nil, fmt.Errorf("esxsim: scenario fault: %w", err)
		}
	}
	return h, nil
}

func (h *Host) cleanup() {
	h.cancel()
	if h.ownWork {
		os.RemoveAll(h.work)
	}
}

func (h *Host) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-h.ctx.Done():
	}
}

func (h *Host) setupKeys() error {
	for _, line := range h.sc.Host.AuthorizedKeys {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return fmt.Errorf("esxsim: authorized key %.30q: %w", line, err)
		}
		h.authKeys = append(h.authKeys, k)
	}
	h.authKeys = append(h.authKeys, h.cfg.AuthorizedKeys...)
	if h.cfg.HostKey != nil {
		h.hostKey = h.cfg.HostKey
		return nil
	}
	if h.cfg.HostKeyFile != "" {
		s, err := LoadOrCreateHostKey(h.cfg.HostKeyFile)
		if err != nil {
			return err
		}
		h.hostKey = s
		return nil
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	h.hostKey, err = ssh.NewSignerFromKey(k)
	return err
}

// LoadOrCreateHostKey reads an OpenSSH private key file, creating it with
// a new ECDSA P-256 key (ESXi has one) when it does not exist, so a lab's
// host key survives restarts.
func LoadOrCreateHostKey(file string) (ssh.Signer, error) {
	b, err := os.ReadFile(file)
	if err == nil {
		s, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("esxsim: host key %s: %w", file, err)
		}
		return s, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("esxsim: host key: %w", err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	blk, err := ssh.MarshalPrivateKey(k, "esxsim host key")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("esxsim: host key: %w", err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(blk), 0o600); err != nil {
		return nil, fmt.Errorf("esxsim: write host key: %w", err)
	}
	return ssh.NewSignerFromKey(k)
}

// Start binds the SSH address and serves SSH, unless the scenario has the
// service stopped, until Close.
func (h *Host) Start(ctx context.Context) error {
	h.sshConf = h.serverConfig()
	if err := h.startService(); err != nil {
		return err
	}
	go func() {
		select {
		case <-ctx.Done():
			h.Close()
		case <-h.ctx.Done():
		}
	}()
	h.log.Info("simulated ESXi host serving", "ssh", h.Addr().String(), "ssh_service", h.sc.Host.SSH, "hostname", h.sc.Host.Hostname)
	return nil
}

// Addr is the SSH address, also while the SSH service is stopped.
func (h *Host) Addr() net.Addr {
	h.svc.mu.Lock()
	defer h.svc.mu.Unlock()
	return h.svc.addr
}

// User is the login name.
func (h *Host) User() string { return h.cfg.User }

// Password is the login password ("" when only keys are accepted).
func (h *Host) Password() string { return h.cfg.Password }

// HostKey is the SSH host key's public half.
func (h *Host) HostKey() ssh.PublicKey { return h.hostKey.PublicKey() }

// Fingerprint is the host key's SHA256 fingerprint as OpenSSH prints it.
func (h *Host) Fingerprint() string { return ssh.FingerprintSHA256(h.hostKey.PublicKey()) }

// Hostname is the simulated host's name.
func (h *Host) Hostname() string { return h.sc.Host.Hostname }

// Scenario is the scenario the host was built from.
func (h *Host) Scenario() *Scenario { return h.sc }

// Now is the host's clock.
func (h *Host) Now() time.Time { return h.now() }

// Close stops serving, drops every connection, unmounts NFS volumes
// (without telling their servers if they are gone) and removes the work
// folder it created.
func (h *Host) Close() error {
	if h.closed.Swap(true) {
		return nil
	}
	h.svc.mu.Lock()
	if h.svc.ln != nil {
		h.svc.ln.Close()
		h.svc.ln = nil
	}
	if h.svc.timeout != nil {
		h.svc.timeout.Stop()
	}
	h.svc.mu.Unlock()
	h.connMu.Lock()
	for c := range h.conns {
		c.Close()
	}
	h.connMu.Unlock()
	h.mu.Lock()
	mounts := make([]*nfsMount, 0, len(h.mounts))
	for _, m := range h.mounts {
		mounts = append(mounts, m)
	}
	h.mu.Unlock()
	for _, m := range mounts {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		m.close(ctx)
		cancel()
	}
	h.cancel()
	h.wg.Wait()
	h.closeDeltas()
	if h.ownWork {
		return os.RemoveAll(h.work)
	}
	return nil
}

// canonPath maps a path through the datastore name symlinks to the
// physical path (/vmfs/volumes/NAME/x -> /vmfs/volumes/UUID/x); paths
// that do not resolve are returned cleaned.
func (h *Host) canonPath(p string) string {
	dir, base := filepath.Split(p)
	l, err := h.fs.resolve(dir, true)
	if err != nil {
		return filepath.Clean(p)
	}
	return filepath.Join(l.path, base)
}

// ReadAuthorizedKeys reads an OpenSSH authorized_keys (or .pub) file.
func ReadAuthorizedKeys(file string) ([]ssh.PublicKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("authorized keys: %w", err)
	}
	var keys []ssh.PublicKey
	for len(b) > 0 {
		k, _, _, rest, err := ssh.ParseAuthorizedKey(b)
		if err != nil {
			if len(keys) == 0 {
				return nil, fmt.Errorf("authorized keys %s: %w", file, err)
			}
			break
		}
		keys = append(keys, k)
		b = rest
	}
	return keys, nil
}
