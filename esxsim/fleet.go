package esxsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/crypto/ssh"
)

// fleetShare is what the hosts of one fleet share: the lock over their
// file trees and the root node of every shared datastore.
type fleetShare struct {
	lock    *treeLock
	mu      sync.Mutex
	volumes map[string]*node // by datastore UUID
}

func (f *fleetShare) treeLock() *treeLock {
	if f == nil {
		return nil
	}
	return f.lock
}

// volume is the root of a shared datastore another host built, or nil.
func (f *fleetShare) volume(ds Datastore) *node {
	if f == nil || !ds.shared {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.volumes[ds.UUID]
}

func (f *fleetShare) addVolume(ds Datastore, root *node) {
	if f == nil || !ds.shared {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.volumes[ds.UUID] = root
}

// FleetConfig says how a fleet's hosts run. Zero values take the
// documented defaults.
type FleetConfig struct {
	// ListenHost is where hosts without an address: of their own listen
	// (default 127.0.0.1); a host with one listens on it.
	ListenHost string
	// Port is the SSH port: 0 gives every host a free port; P gives each
	// host P, and hosts on one address P, P+1, ... in scenario order.
	Port int
	// HostKeyDir keeps one SSH host key per host (HOSTNAME_host_key),
	// created on first use; empty: keys generated for this run.
	HostKeyDir string
	// AuthorizedKeys may log in to every host.
	AuthorizedKeys []ssh.PublicKey
	PortmapPort    int
	// WorkDir holds one folder per host (default: temporary folders).
	WorkDir string
	Logger  *slog.Logger
	// Host adjusts a host's Config before it is built (tests).
	Host func(hostname string, c *Config)
}

// Fleet is several simulated hosts built from one FleetScenario, sharing
// the datastores it says they share.
type Fleet struct {
	sc    *FleetScenario
	hosts []*Host
}

// NewFleet builds every host of the scenario; Start serves them.
func NewFleet(fs *FleetScenario, cfg FleetConfig) (*Fleet, error) {
	if fs == nil || len(fs.Hosts) == 0 {
		return nil, errors.New("esxsim: no fleet scenario")
	}
	if cfg.ListenHost == "" {
		cfg.ListenHost = "127.0.0.1"
	}
	share := &fleetShare{lock: newTreeLock(), volumes: map[string]*node{}}
	f := &Fleet{sc: fs}
	next := map[string]int{}
	for _, sc := range fs.Hosts {
		addr := cfg.ListenHost
		if sc.addressGiven {
			addr = sc.Host.Address
		}
		// The host reports the address it can be reached on.
		own := *sc
		own.Host.Address = addr
		port := 0
		if cfg.Port != 0 {
			port = cfg.Port + next[addr]
			next[addr]++
		}
		hc := Config{
			Listen: net.JoinHostPort(addr, strconv.Itoa(port)), AuthorizedKeys: cfg.AuthorizedKeys,
			PortmapPort: cfg.PortmapPort, fleet: share,
		}
		if cfg.HostKeyDir != "" {
			hc.HostKeyFile = filepath.Join(cfg.HostKeyDir, sc.Host.Hostname+"_host_key")
		}
		if cfg.WorkDir != "" {
			hc.WorkDir = filepath.Join(cfg.WorkDir, sc.Host.Hostname)
		}
		if cfg.Logger != nil {
			hc.Logger = cfg.Logger.With("host", sc.Host.Hostname)
		}
		if cfg.Host != nil {
			cfg.Host(sc.Host.Hostname, &hc)
		}
		h, err := New(&own, hc)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("esxsim: host %s: %w", sc.Host.Hostname, err)
		}
		f.hosts = append(f.hosts, h)
	}
	return f, nil
}

// Start serves every host; on an error the hosts started are closed.
func (f *Fleet) Start(ctx context.Context) error {
	for _, h := range f.hosts {
		if err := h.Start(ctx); err != nil {
			f.Close()
			return fmt.Errorf("host %s: %w", h.Hostname(), err)
		}
	}
	return nil
}

// Hosts are the fleet's hosts in scenario order.
func (f *Fleet) Hosts() []*Host { return append([]*Host(nil), f.hosts...) }

// Host returns the host named name, or nil.
func (f *Fleet) Host(name string) *Host {
	for _, h := range f.hosts {
		if h.Hostname() == name {
			return h
		}
	}
	return nil
}

// Scenario is the scenario the fleet was built from.
func (f *Fleet) Scenario() *FleetScenario { return f.sc }

// Close closes every host.
func (f *Fleet) Close() error {
	var errs []error
	for _, h := range f.hosts {
		errs = append(errs, h.Close())
	}
	return errors.Join(errs...)
}
