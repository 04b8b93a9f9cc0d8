package vsphere_test

import (
	"context"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi/simulator"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/internal/memlog"
	"github.com/esxsink/esxsink/vsphere"
)

// TestDialPinnedThumbprint: the pinned certificate is trusted in every
// form people copy it in, the endpoint forms all reach the SDK, and the
// session is recorded with the thumbprint presented.
func TestDialPinnedThumbprint(t *testing.T) {
	s := startSim(t, simulator.VPX())
	host := s.server.URL.Host
	lower := strings.ToLower(s.thumbprint)
	for _, c := range []struct{ url, thumb string }{
		{host, s.thumbprint},
		{"https://" + host + "/sdk", lower},
		{"https://" + host, strings.ReplaceAll(s.thumbprint, ":", "")},
		{host, "sha256 Fingerprint=" + s.thumbprint},
		{host, sha1Thumbprint(s.server.Certificate())},
	} {
		cfg := s.config()
		cfg.URL, cfg.Thumbprint = c.url, c.thumb
		log := &memlog.Log{}
		cfg.Log = log
		cl := s.dial(t, cfg)
		if !cl.IsVCenter() {
			t.Errorf("%s: vcsim VPX is not seen as a vCenter", c.url)
		}
		recs := log.Records(custody.TypeVCenterConnected)
		if len(recs) != 1 {
			t.Fatalf("%s: %d vcenter.connected records, want 1", c.url, len(recs))
		}
		var rec custody.VCenterConnected
		if err := recs[0].Decode(&rec); err != nil {
			t.Fatal(err)
		}
		if rec.Thumbprint != s.thumbprint || rec.Endpoint != host || rec.APIType != "VirtualCenter" || !strings.HasPrefix(rec.TrustedBy, "pinned thumbprint") {
			t.Errorf("%s: record %+v", c.url, rec)
		}
	}
}

// TestDialUnknownThumbprint: with nothing to vouch for the certificate,
// the endpoint is refused before any password is asked for, and the
// error names the thumbprint the examiner checks and pins.
func TestDialUnknownThumbprint(t *testing.T) {
	s := startSim(t, simulator.VPX())
	cfg := s.config()
	cfg.Thumbprint = ""
	asked := false
	cfg.Password = func(context.Context, string, string) (string, error) { asked = true; return s.pass, nil }
	_, err := vsphere.Dial(t.Context(), cfg)
	var unknown *vsphere.UnknownThumbprintError
	if !errors.As(err, &unknown) {
		t.Fatalf("dial without trust: %v, want an UnknownThumbprintError", err)
	}
	if unknown.Thumbprint != s.thumbprint || !strings.Contains(err.Error(), s.thumbprint) {
		t.Errorf("error %q does not show thumbprint %s", err, s.thumbprint)
	}
	if asked {
		t.Error("the password was asked for before the endpoint was trusted")
	}
}

// TestDialThumbprintMismatch: a pinned thumbprint of another certificate
// is refused loudly, naming both.
func TestDialThumbprintMismatch(t *testing.T) {
	s := startSim(t, simulator.VPX())
	other := otherCertificate(t)
	cfg := s.config()
	cfg.Thumbprint = vsphere.Thumbprint(other)
	_, err := vsphere.Dial(t.Context(), cfg)
	var mismatch *vsphere.ThumbprintMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("dial with a wrong pin: %v, want a ThumbprintMismatchError", err)
	}
	if mismatch.Thumbprint != s.thumbprint || !strings.Contains(err.Error(), cfg.Thumbprint) {
		t.Errorf("error %q: want the presented %s and the pinned %s", err, s.thumbprint, cfg.Thumbprint)
	}
}

// TestDialCAFile: a CA file that signed the certificate is trusted; one
// that did not is refused with the certificate's thumbprint and why.
func TestDialCAFile(t *testing.T) {
	s := startSim(t, simulator.VPX())
	ca := filepath.Join(t.TempDir(), "vmca.pem")
	if err := os.WriteFile(ca, s.caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := s.config()
	cfg.Thumbprint, cfg.CAFile = "", ca
	log := &memlog.Log{}
	cfg.Log = log
	s.dial(t, cfg)
	var rec custody.VCenterConnected
	if err := log.Records(custody.TypeVCenterConnected)[0].Decode(&rec); err != nil {
		t.Fatal(err)
	}
	if rec.TrustedBy != "CA file "+ca || rec.Thumbprint != s.thumbprint {
		t.Errorf("record %+v", rec)
	}

	otherCA := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(otherCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: otherCertificate(t).Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.CAFile, cfg.Log = otherCA, nil
	_, err := vsphere.Dial(t.Context(), cfg)
	var unknown *vsphere.UnknownThumbprintError
	var x509err x509.UnknownAuthorityError
	if !errors.As(err, &unknown) || unknown.Thumbprint != s.thumbprint || !errors.As(err, &x509err) {
		t.Errorf("dial with a CA that did not sign the certificate: %v", err)
	}
}

// TestDialTrustOptions: what cannot be trusted or reached is said before
// any connection: a malformed pin, a pin and a CA together, http.
func TestDialTrustOptions(t *testing.T) {
	t.Parallel()
	pw := func(context.Context, string, string) (string, error) { return "x", nil }
	for _, c := range []struct {
		cfg  vsphere.Config
		want error
	}{
		{vsphere.Config{URL: "vc", User: "u", Password: pw, Thumbprint: "SHA256:abcdef"}, vsphere.ErrBadThumbprint},
		{vsphere.Config{URL: "vc", User: "u", Password: pw, Thumbprint: "AB:CD"}, vsphere.ErrBadThumbprint},
		{vsphere.Config{URL: "vc", User: "u", Password: pw, Thumbprint: strings.Repeat("AB", 32), CAFile: "ca.pem"}, vsphere.ErrTrustConflict},
		{vsphere.Config{URL: "vc", User: "u", Password: pw, CAFile: "/nonexistent/ca.pem"}, vsphere.ErrBadCAFile},
		{vsphere.Config{URL: "vc", User: "u", Password: pw, CAFile: "dial_test.go"}, vsphere.ErrBadCAFile},
		{vsphere.Config{URL: "http://vc/sdk", User: "u", Password: pw}, vsphere.ErrNotHTTPS},
		{vsphere.Config{URL: "https://u:p@vc/sdk", User: "u", Password: pw}, vsphere.ErrCredentialsInURL},
		{vsphere.Config{URL: "", User: "u", Password: pw}, vsphere.ErrNoEndpoint},
		{vsphere.Config{URL: "vc", Password: pw}, vsphere.ErrNoUser},
		{vsphere.Config{URL: "vc", User: "u"}, vsphere.ErrNoPassword},
	} {
		if _, err := vsphere.Dial(t.Context(), c.cfg); !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.cfg, err, c.want)
		}
	}
}

// TestDialWrongPassword: a refused login is ErrLoginRefused, naming the
// user.
func TestDialWrongPassword(t *testing.T) {
	s := startSim(t, simulator.VPX())
	cfg := s.config()
	cfg.Password = func(context.Context, string, string) (string, error) { return "not-the-password", nil }
	_, err := vsphere.Dial(t.Context(), cfg)
	if !errors.Is(err, vsphere.ErrLoginRefused) || !strings.Contains(err.Error(), s.user) {
		t.Errorf("wrong password: %v, want ErrLoginRefused naming %q", err, s.user)
	}
}

// otherCertificate is a certificate the simulator does not present.
func otherCertificate(t *testing.T) *x509.Certificate {
	t.Helper()
	return newCA(t).cert
}

// sha1Thumbprint is the older form of a thumbprint, as ESXi 6 consoles
// show it.
func sha1Thumbprint(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// TestDialUnreachable: nothing listening is said as such, and no
// password is asked for.
func TestDialUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	asked := false
	_, err = vsphere.Dial(t.Context(), vsphere.Config{URL: addr, User: "u", Thumbprint: strings.Repeat("AB", 32),
		Password: func(context.Context, string, string) (string, error) { asked = true; return "", nil }})
	if err == nil || !strings.Contains(err.Error(), "reach the vSphere API at https://"+addr+"/sdk") || asked {
		t.Errorf("dial %s with nothing listening: %v (password asked: %v)", addr, err, asked)
	}
}
