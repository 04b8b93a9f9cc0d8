package vsphere

import (
	"errors"
	"strings"
	"testing"
)

// TestParseEndpoint: every form an examiner types reaches the SDK at the
// right host and port.
func TestParseEndpoint(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, url, addr string }{
		{"vcsa.example", "https://vcsa.example/sdk", "vcsa.example:443"},
		{"10.0.0.5:8443", "https://10.0.0.5:8443/sdk", "10.0.0.5:8443"},
		{"https://vcsa.example/sdk", "https://vcsa.example/sdk", "vcsa.example:443"},
		{"HTTPS://vcsa.example", "https://vcsa.example/sdk", "vcsa.example:443"},
		{"https://vcsa.example:9443/", "https://vcsa.example:9443/sdk", "vcsa.example:9443"},
		{"fd00::5", "https://[fd00::5]/sdk", "[fd00::5]:443"},
		{"[fd00::5]:443", "https://[fd00::5]:443/sdk", "[fd00::5]:443"},
		{" vcsa.example ", "https://vcsa.example/sdk", "vcsa.example:443"},
	} {
		ep, err := parseEndpoint(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if ep.url.String() != c.url || ep.addr != c.addr {
			t.Errorf("%q: %s %s, want %s %s", c.in, ep.url, ep.addr, c.url, c.addr)
		}
	}
	for _, c := range []struct {
		in   string
		want error
	}{{"", ErrNoEndpoint}, {"http://vcsa.example/sdk", ErrNotHTTPS}, {"https://root:secret@vcsa.example", ErrCredentialsInURL}} {
		if _, err := parseEndpoint(c.in); !errors.Is(err, c.want) {
			t.Errorf("%q: %v, want %v", c.in, err, c.want)
		}
	}
	if _, err := parseEndpoint("https://root:secret@vcsa.example"); err != nil && strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows the password: %v", err)
	}
}
