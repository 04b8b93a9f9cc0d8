package vcenter

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"

	"github.com/esxsink/esxsink/esxsim"
	"github.com/esxsink/esxsink/internal/peer"
)

// lab is examples/lab/vcenter.yaml running: its hosts and its vCenter.
type lab struct {
	t     *testing.T
	sc    *esxsim.FleetScenario
	fleet *esxsim.Fleet
	vc    *VCenter
}

func startLab(t *testing.T) *lab {
	t.Helper()
	return startLabWith(t, func(*esxsim.FleetScenario) {})
}

// startLabWith starts the lab on the scenario as edit changes it.
func startLabWith(t *testing.T, edit func(*esxsim.FleetScenario)) *lab {
	t.Helper()
	sc, err := esxsim.LoadFleet("../../examples/lab/vcenter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edit(sc)
	var logger *slog.Logger
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	f, err := esxsim.NewFleet(sc, esxsim.FleetConfig{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		f.Close()
	})
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	vc, err := New(f, Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vc.Close() })
	if err := vc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return &lab{t: t, sc: sc, fleet: f, vc: vc}
}

// connect logs in over TLS, trusting the certificate only by the
// thumbprint the lab prints, as an examiner pins it.
func (l *lab) connect(thumbprint string) (*govmomi.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := l.vc.URL()
	sc := soap.NewClient(u, false)
	sc.SetThumbprint(u.Host, thumbprint)
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, err
	}
	c := &govmomi.Client{Client: vc, SessionManager: session.NewManager(vc)}
	if err := c.Login(ctx, url.UserPassword(l.vc.User(), l.vc.Password())); err != nil {
		return nil, err
	}
	return c, nil
}

func (l *lab) client() *govmomi.Client {
	l.t.Helper()
	c, err := l.connect(l.vc.Thumbprint())
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { c.Logout(context.Background()) })
	return c
}

// sshResult is what the real OpenSSH client did.
type sshResult struct {
	out  string
	code int
}

// refused: ssh could not connect at all, as against a login that failed.
func (r sshResult) refused() bool {
	return r.code == 255 && bytes.Contains([]byte(r.out), []byte("Connection refused"))
}

// ssh runs command on a lab host with the real OpenSSH client, logging
// in with the host's password as a responder would.
func (l *lab) ssh(host, command string) sshResult {
	l.t.Helper()
	h := l.fleet.Host(host)
	addr, port, _ := net.SplitHostPort(h.Addr().String())
	ssh, sshpass := peer.Require(l.t, "ssh"), peer.Require(l.t, "sshpass")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sshpass, "-p", h.Password(), ssh, "-F", "/dev/null", "-p", port,
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "ConnectTimeout=10", "-o", "PubkeyAuthentication=no", h.User()+"@"+addr, command)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return sshResult{string(out), ee.ExitCode()}
	case err != nil:
		l.t.Fatalf("ssh %s %q: %v", host, command, err)
	}
	return sshResult{string(out), 0}
}
