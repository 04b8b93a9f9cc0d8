package vcenter

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// loadOrCreateCert reads a PEM certificate and key from file, or makes a
// self-signed one (for the vCenter's name and the listen address) and
// writes it there; with no file the certificate lives for this run.
func loadOrCreateCert(file, hostname, listen string) (tls.Certificate, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err == nil {
			cert, err := tls.X509KeyPair(b, b)
			if err != nil {
				return tls.Certificate{}, fmt.Errorf("vcenter: certificate %s: %w", file, err)
			}
			return cert, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return tls.Certificate{}, fmt.Errorf("vcenter: certificate: %w", err)
		}
	}
	certPEM, keyPEM, err := selfSigned(hostname, listen)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("vcenter: make a certificate: %w", err)
	}
	if file != "" {
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return tls.Certificate{}, fmt.Errorf("vcenter: certificate: %w", err)
		}
		if err := os.WriteFile(file, append(certPEM, keyPEM...), 0o600); err != nil {
			return tls.Certificate{}, fmt.Errorf("vcenter: write certificate: %w", err)
		}
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// selfSigned makes a certificate like a fresh vCenter's before its CA is
// trusted: self-signed, for its name, localhost and the listen address.
func selfSigned(hostname, listen string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hostname, Organization: []string{"esxsink lab"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{hostname, "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if h, _, err := net.SplitHostPort(listen); err == nil {
		if ip := net.ParseIP(h); ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}
