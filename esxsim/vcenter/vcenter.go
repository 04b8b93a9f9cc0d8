package vcenter

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/esxsim"
)

// Config says how the vCenter runs. Zero values take the documented
// defaults.
type Config struct {
	// Listen is the HTTPS address (default 127.0.0.1:0, a free port).
	Listen string
	// CertFile keeps the TLS certificate and key (PEM), created on first
	// use so the thumbprint survives restarts; empty: a certificate for
	// this run.
	CertFile string
	Logger   *slog.Logger
}

// VCenter is a simulated vCenter over a fleet of simulated hosts.
type VCenter struct {
	cfg   Config
	spec  *esxsim.VCenterSpec
	fleet *esxsim.Fleet
	log   *slog.Logger
	model *simulator.Model
	cert  tls.Certificate
	// dir holds the folders vcsim wants behind its datastores; the VMs'
	// real files are on the simulated hosts.
	dir     string
	started time.Time

	dc    types.ManagedObjectReference // the first datacenter's, for events
	hosts map[string]*labHost
	vms   map[string]*labVM
	dss   map[string]types.ManagedObjectReference // by UUID

	mu     sync.Mutex
	server *simulator.Server
	closed bool
}

// labHost is a simulated host and its objects in the inventory.
type labHost struct {
	h        *esxsim.Host
	ref      types.ManagedObjectReference // HostSystem
	services types.ManagedObjectReference // HostServiceSystem
	access   types.ManagedObjectReference // HostAccessManager
	options  types.ManagedObjectReference // OptionManager
}

// labVM is a VM of the scenario and its object in the inventory.
type labVM struct {
	host *labHost
	spec esxsim.VMSpec
	ref  types.ManagedObjectReference
}

// New builds the vCenter's inventory from a fleet (its scenario must
// have a vcenter: section); Start serves it.
func New(f *esxsim.Fleet, cfg Config) (*VCenter, error) {
	if f == nil || f.Scenario().VCenter == nil {
		return nil, errors.New("vcenter: the scenario has no vcenter: section")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	v := &VCenter{cfg: cfg, spec: f.Scenario().VCenter, fleet: f, log: cfg.Logger, started: time.Now(),
		hosts: map[string]*labHost{}, vms: map[string]*labVM{}, dss: map[string]types.ManagedObjectReference{}}
	cert, err := loadOrCreateCert(cfg.CertFile, v.spec.Hostname, cfg.Listen)
	if err != nil {
		return nil, err
	}
	v.cert = cert
	v.dir, err = os.MkdirTemp("", "esxsim-vcenter-")
	if err != nil {
		return nil, fmt.Errorf("vcenter: datastore folders: %w", err)
	}
	// An empty vCenter: the inventory comes from the scenario alone.
	m := simulator.VPX()
	m.Datacenter, m.Portgroup, m.Host, m.Cluster, m.ClusterHost, m.Datastore, m.Machine = 0, 0, 0, 0, 0, 0, 0
	m.Autostart = false
	if err := m.Create(); err != nil {
		os.RemoveAll(v.dir)
		return nil, fmt.Errorf("vcenter: %w", err)
	}
	v.model = m
	if err := v.build(context.Background()); err != nil {
		v.cleanup()
		return nil, fmt.Errorf("vcenter: build the inventory: %w", err)
	}
	v.model.Service.Context.Map.Handler = v.handle
	return v, nil
}

// Start serves the vCenter over HTTPS until Close or until ctx ends.
func (v *VCenter) Start(ctx context.Context) (err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed || v.server != nil {
		return errors.New("vcenter: closed or already started")
	}
	svc := v.model.Service
	svc.Listen = &url.URL{Host: v.cfg.Listen, User: url.UserPassword(v.spec.User, v.spec.Password)}
	svc.TLS = &tls.Config{Certificates: []tls.Certificate{v.cert}, MinVersion: tls.VersionTLS12}
	v.guardFiles(svc)
	// vcsim panics when it cannot listen.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("vcenter: listen on %s: %v", v.cfg.Listen, r)
		}
	}()
	v.server = svc.NewServer()
	go func() {
		<-ctx.Done()
		v.Close()
	}()
	v.log.Info("simulated vCenter serving", "url", v.server.URL.Host, "thumbprint", v.Thumbprint())
	return nil
}

// URL is the SDK endpoint, https://HOST:PORT/sdk, without credentials.
func (v *VCenter) URL() *url.URL {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.server == nil {
		return nil
	}
	u := *v.server.URL
	u.User = nil
	return &u
}

// User is the login name (administrator@vsphere.local by default).
func (v *VCenter) User() string { return v.spec.User }

// Password is the login password.
func (v *VCenter) Password() string { return v.spec.Password }

// Hostname is the vCenter's name.
func (v *VCenter) Hostname() string { return v.spec.Hostname }

// Certificate is the TLS certificate the vCenter presents.
func (v *VCenter) Certificate() *x509.Certificate { return v.cert.Leaf }

// Thumbprint is the certificate's SHA-256 thumbprint, colon-separated
// upper-case hex, as vSphere shows and govmomi pins it.
func (v *VCenter) Thumbprint() string { return soap.ThumbprintSHA256(v.cert.Leaf) }

// Close stops serving and removes the vCenter's temporary folders; the
// hosts are the fleet's to close.
func (v *VCenter) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	v.closed = true
	if v.server != nil {
		v.server.Close()
	}
	v.cleanup()
	return nil
}

func (v *VCenter) cleanup() {
	if v.model != nil {
		v.model.Remove()
	}
	os.RemoveAll(v.dir)
}

// hostList is the hosts in scenario order.
func (v *VCenter) hostList() []*labHost {
	var out []*labHost
	for _, h := range v.fleet.Hosts() {
		out = append(out, v.hosts[h.Hostname()])
	}
	return out
}

// vmList is the VMs in scenario order.
func (v *VCenter) vmList() []*labVM {
	var out []*labVM
	for _, h := range v.fleet.Scenario().Hosts {
		for _, spec := range h.VMs {
			if lv := v.vms[spec.Name]; lv != nil {
				out = append(out, lv)
			}
		}
	}
	return out
}
