package vsphere_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"

	"github.com/esxsink/esxsink/vsphere"
)

// sim is a vcsim endpoint over real TLS, with a certificate issued by a
// CA of its own as VMCA issues vCenter's: the simulator's inventory
// (Map) is what the tests compare esxsink's answers against.
type sim struct {
	model  *simulator.Model
	server *simulator.Server
	// thumbprint is the SHA-256 thumbprint of the server's certificate;
	// caPEM the CA that issued it.
	thumbprint string
	caPEM      []byte
	user, pass string
}

// startSim creates model and serves it over https until the test ends.
// vcsim keeps global state (its license manager's, its host counter) that
// two models being created at once race on, so the tests that start one
// do not run in parallel.
func startSim(t *testing.T, model *simulator.Model) *sim {
	t.Helper()
	if err := model.Create(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(model.Remove)
	ca := newCA(t)
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{ca.issue(t, "vcsa.lab.example", net.ParseIP("127.0.0.1"))}}
	// A user and password of its own: with vcsim's default login any
	// non-empty password would do.
	model.Service.Listen = &url.URL{User: url.UserPassword("administrator@vsphere.local", rand.Text())}
	s := model.Service.NewServer()
	t.Cleanup(s.Close)
	pass, _ := s.URL.User.Password()
	return &sim{model: model, server: s, thumbprint: vsphere.Thumbprint(s.Certificate()), caPEM: ca.pem, user: s.URL.User.Username(), pass: pass}
}

// config is a Config that trusts the simulator by its pinned thumbprint.
func (s *sim) config() vsphere.Config {
	return vsphere.Config{
		URL: "https://" + s.server.URL.Host + "/sdk", User: s.user, Thumbprint: s.thumbprint,
		Password: func(context.Context, string, string) (string, error) { return s.pass, nil },
	}
}

// dial logs in with cfg and logs out when the test ends.
func (s *sim) dial(t *testing.T, cfg vsphere.Config) *vsphere.Client {
	t.Helper()
	c, err := vsphere.Dial(t.Context(), cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", cfg.URL, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// testCA is a certificate authority for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test VMCA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a server certificate for name and ip.
func (ca *testCA) issue(t *testing.T, name string, ip net.IP) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}, IPAddresses: []net.IP{ip},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// newGovmomi is a plain govmomi session on the simulator, for a test to
// act as the vCenter administrator (make snapshots, post events, power
// VMs off) through the API rather than by editing the simulator. It
// trusts the simulator by govmomi's own thumbprint check.
func newGovmomi(t *testing.T, s *sim) (*vim25.Client, error) {
	t.Helper()
	u := *s.server.URL
	sc := soap.NewClient(&u, false)
	sc.SetThumbprint(u.Host, s.thumbprint)
	vc, err := vim25.NewClient(t.Context(), sc)
	if err != nil {
		return nil, err
	}
	sm := session.NewManager(vc)
	if err := sm.Login(t.Context(), u.User); err != nil {
		return nil, err
	}
	t.Cleanup(func() { sm.Logout(context.Background()) })
	return vc, nil
}
