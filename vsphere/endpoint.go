package vsphere

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Errors of the endpoint as given.
var (
	// ErrNoEndpoint: no vCenter or ESXi API endpoint was given.
	ErrNoEndpoint = errors.New("no vSphere API endpoint given")
	// ErrNotHTTPS: the API is spoken over https only; a plain http URL
	// would send the password in the clear.
	ErrNotHTTPS = errors.New("the vSphere API is reached over https only")
	// ErrCredentialsInURL: a user or password inside the URL would end
	// up in the process list and in the custody log's command line.
	ErrCredentialsInURL = errors.New("the endpoint URL carries a user or password")
)

// endpoint is where the API is: the SDK URL and host:port.
type endpoint struct {
	url  *url.URL
	addr string // host:port, the port 443 when none was given
	name string // the host name or IP alone, what the certificate names
}

// parseEndpoint accepts what examiners type: HOST, HOST:PORT, an IPv6
// address with or without brackets, or https://HOST[:PORT][/sdk]. The
// SDK path defaults to /sdk, as on vCenter and ESXi alike.
func parseEndpoint(s string) (endpoint, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return endpoint{}, ErrNoEndpoint
	}
	if !strings.Contains(s, "://") {
		if ip := net.ParseIP(s); ip != nil && strings.Contains(s, ":") {
			s = "[" + s + "]"
		}
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return endpoint{}, fmt.Errorf("vSphere endpoint %q: %w", s, err)
	}
	switch {
	case !strings.EqualFold(u.Scheme, "https"):
		return endpoint{}, fmt.Errorf("vSphere endpoint %q: %w", s, ErrNotHTTPS)
	case u.User != nil:
		return endpoint{}, fmt.Errorf("vSphere endpoint %s: %w: give the user separately and the password by file, environment or prompt", u.Redacted(), ErrCredentialsInURL)
	case u.Hostname() == "":
		return endpoint{}, fmt.Errorf("vSphere endpoint %q names no host", s)
	case u.RawQuery != "" || u.Fragment != "":
		return endpoint{}, fmt.Errorf("vSphere endpoint %q: a query or fragment has no meaning here", s)
	}
	u.Scheme = "https"
	if u.Path == "" || u.Path == "/" {
		u.Path = "/sdk"
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	return endpoint{url: u, addr: net.JoinHostPort(u.Hostname(), port), name: u.Hostname()}, nil
}
