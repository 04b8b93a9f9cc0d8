package vsphere

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrBadThumbprint: a pinned thumbprint is not the hex of a SHA-256 (or
// SHA-1) digest.
var ErrBadThumbprint = errors.New("not a certificate thumbprint")

// Thumbprint is the SHA-256 thumbprint of cert as vSphere shows it:
// upper-case hex bytes separated by colons. It is the form esxsink shows,
// records and prefers to be given.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return colonHex(sum[:])
}

// thumbprintSHA1 is the older SHA-1 form that ESXi 6.x consoles and
// govc's thumbprint files show.
func thumbprintSHA1(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return colonHex(sum[:])
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, ":")
}

// pin is a parsed pinned thumbprint: the digest of the one certificate
// the examiner vouched for.
type pin struct {
	sum  []byte
	text string // as given, for messages
}

// parseThumbprint reads a thumbprint as people copy it: hex with or
// without colons (or spaces), either case, optionally the whole line
// openssl prints ("sha256 Fingerprint=AB:CD:..."). A SHA-256 digest is
// expected; a SHA-1 one is accepted because older ESXi consoles show
// only that, and a pin matches one exact certificate either way.
func parseThumbprint(s string) (pin, error) {
	given := strings.TrimSpace(s)
	t := given
	if i := strings.LastIndex(t, "="); i >= 0 {
		t = t[i+1:]
	}
	t = strings.NewReplacer(":", "", " ", "", "-", "").Replace(t)
	sum, err := hex.DecodeString(t)
	if err != nil || (len(sum) != sha256.Size && len(sum) != sha1.Size) {
		return pin{}, fmt.Errorf("thumbprint %q: %w: want the certificate's SHA-256 thumbprint, 32 hex bytes like AB:CD:…, as the vSphere Client shows it or `openssl x509 -noout -fingerprint -sha256` prints it", given, ErrBadThumbprint)
	}
	return pin{sum: sum, text: given}, nil
}

// matches says whether cert is the pinned certificate.
func (p pin) matches(cert *x509.Certificate) bool {
	if len(p.sum) == sha1.Size {
		sum := sha1.Sum(cert.Raw)
		return bytes.Equal(p.sum, sum[:])
	}
	sum := sha256.Sum256(cert.Raw)
	return bytes.Equal(p.sum, sum[:])
}

// UnknownThumbprintError refuses an endpoint whose certificate nothing
// vouches for: no thumbprint was pinned and no CA file was given, or the
// CA file does not vouch for it (Err says why). Thumbprint is what the
// examiner checks with the vCenter administrator before pinning it.
type UnknownThumbprintError struct {
	// Host is the endpoint, host:port.
	Host string
	// Thumbprint is the SHA-256 thumbprint of the certificate presented;
	// SHA1 its older form, for consoles that show only that.
	Thumbprint string
	SHA1       string
	// Err is the CA check's error; nil when there was no CA file.
	Err error
}

func (e *UnknownThumbprintError) Error() string {
	why := "nothing vouches for it"
	if e.Err != nil {
		why = "the CA file does not vouch for it: " + e.Err.Error()
	}
	return fmt.Sprintf("the TLS certificate of %s is not trusted (%s). It presents SHA-256 thumbprint %s (SHA-1 %s). "+
		"Verify that thumbprint out of band with the vCenter administrator (the vSphere Client shows it in the certificate's details), then pin it",
		e.Host, why, e.Thumbprint, e.SHA1)
}

func (e *UnknownThumbprintError) Unwrap() error { return e.Err }

// ThumbprintMismatchError refuses an endpoint whose certificate is not
// the pinned one: a renewed certificate, or someone in the middle.
type ThumbprintMismatchError struct {
	Host       string
	Thumbprint string
	SHA1       string
	Pinned     string
}

func (e *ThumbprintMismatchError) Error() string {
	return fmt.Sprintf("WARNING: THE TLS CERTIFICATE OF %s IS NOT THE PINNED ONE: it presents SHA-256 thumbprint %s (SHA-1 %s) but %s was pinned. "+
		"This can mean the connection is intercepted, or that the certificate was renewed. Do not continue until the administrator confirms the new thumbprint",
		e.Host, e.Thumbprint, e.SHA1, e.Pinned)
}
