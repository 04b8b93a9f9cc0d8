package vsphere

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
)

// trust decides whether the endpoint's certificate is the one the
// examiner vouched for (a pin) or is signed by a CA they gave, and
// remembers what the endpoint presented: the thumbprint for the custody
// record, the refusal for Dial to return as it is (govmomi's SOAP layer
// flattens the errors it passes on).
type trust struct {
	host   string // host:port, for messages
	name   string // host name or IP the certificate must be for (CA check)
	pin    *pin
	roots  *x509.CertPool
	caFile string

	mu      sync.Mutex
	seen    string // SHA-256 thumbprint of the last certificate presented
	refused error
}

// Errors of the trust options.
var (
	// ErrTrustConflict: both a pinned thumbprint and a CA file were
	// given; one says which certificate is trusted, so exactly one is
	// taken.
	ErrTrustConflict = errors.New("both a pinned thumbprint and a CA file were given: choose one")
	// ErrBadCAFile: the CA file cannot be read or holds no certificate.
	ErrBadCAFile = errors.New("unusable CA file")
)

func newTrust(host, name, thumbprint, caFile string) (*trust, error) {
	t := &trust{host: host, name: name, caFile: caFile}
	switch {
	case thumbprint != "" && caFile != "":
		return nil, ErrTrustConflict
	case thumbprint != "":
		p, err := parseThumbprint(thumbprint)
		if err != nil {
			return nil, err
		}
		t.pin = &p
	case caFile != "":
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadCAFile, err)
		}
		t.roots = x509.NewCertPool()
		if !t.roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrBadCAFile, caFile)
		}
	}
	return t, nil
}

// tlsConfig checks every connection in verify. InsecureSkipVerify only
// hands the check from crypto/tls to verify (the pattern the
// tls.Config.VerifyConnection documentation shows): verify refuses every
// certificate that is neither pinned nor signed by the CA file, so that
// it can say which thumbprint was refused.
func (t *trust) tlsConfig() *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true,
		VerifyConnection:   t.verify,
		MinVersion:         tls.VersionTLS12,
	}
}

func (t *trust) verify(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return t.refuse(fmt.Errorf("%s presented no certificate", t.host))
	}
	leaf := cs.PeerCertificates[0]
	t.mu.Lock()
	t.seen = Thumbprint(leaf)
	t.mu.Unlock()
	switch {
	case t.pin != nil:
		if t.pin.matches(leaf) {
			return nil
		}
		return t.refuse(&ThumbprintMismatchError{Host: t.host, Thumbprint: Thumbprint(leaf), SHA1: thumbprintSHA1(leaf), Pinned: t.pin.text})
	case t.roots != nil:
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: t.roots, Intermediates: inter, DNSName: t.name})
		if err == nil {
			return nil
		}
		return t.refuse(&UnknownThumbprintError{Host: t.host, Thumbprint: Thumbprint(leaf), SHA1: thumbprintSHA1(leaf), Err: err})
	}
	return t.refuse(&UnknownThumbprintError{Host: t.host, Thumbprint: Thumbprint(leaf), SHA1: thumbprintSHA1(leaf)})
}

func (t *trust) refuse(err error) error {
	t.mu.Lock()
	t.refused = err
	t.mu.Unlock()
	return err
}

// refusal is the last certificate refusal, nil if none.
func (t *trust) refusal() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refused
}

// thumbprint is the SHA-256 thumbprint of the last certificate presented.
func (t *trust) thumbprint() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seen
}

// trustedBy says what vouched, for the custody record.
func (t *trust) trustedBy() string {
	if t.pin != nil {
		return "pinned thumbprint " + t.pin.text
	}
	return "CA file " + t.caFile
}
