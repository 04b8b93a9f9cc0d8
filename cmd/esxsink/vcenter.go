package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/esxsink/esxsink/vsphere"
)

// vcenterFlags are the flags that say how to reach and trust a vCenter
// (or an ESXi host's own API).
func vcenterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "vcenter", Usage: "vCenter or ESXi API endpoint: HOST, HOST:PORT or https://HOST/sdk"},
		&cli.StringFlag{Name: "vcenter-user", Usage: "(required with --vcenter) vSphere user, e.g. administrator@vsphere.local"},
		&cli.StringFlag{Name: "vcenter-password-file", Usage: "read the vSphere password from this file (else $ESXSINK_VCENTER_PASSWORD, else a prompt)"},
		&cli.StringFlag{Name: "vcenter-thumbprint", Usage: "the endpoint's TLS certificate SHA-256 thumbprint, AB:CD:... as the vSphere Client shows it"},
		&cli.StringFlag{Name: "vcenter-ca", Usage: "PEM file of the CA that signed the endpoint's certificate (instead of --vcenter-thumbprint)"},
	}
}

// dialVCenter logs in to the endpoint the flags name. log, when not nil,
// is the case's custody log: the session is recorded there. Mistakes in
// the flags are usage errors (exit 2); an endpoint that is not trusted or
// refuses the login is not.
func dialVCenter(ctx context.Context, c *cli.Context, log vsphere.Recorder, runID string, logger *slog.Logger) (*vsphere.Client, error) {
	if c.String("vcenter-user") == "" {
		return nil, usageError(fmt.Errorf("--vcenter needs --vcenter-user: %w", vsphere.ErrNoUser))
	}
	src := vcenterPassword(c.String("vcenter-password-file"), c.App.ErrWriter)
	cfg := vsphere.Config{
		URL: c.String("vcenter"), User: c.String("vcenter-user"),
		Password:   func(_ context.Context, user, endpoint string) (string, error) { return src.get(user, endpoint) },
		Thumbprint: c.String("vcenter-thumbprint"), CAFile: c.String("vcenter-ca"),
		ConnectTimeout: c.Duration("connect-timeout"), Log: log, RunID: runID, Logger: logger,
	}
	client, err := vsphere.Dial(ctx, cfg)
	switch {
	case err == nil:
		return client, nil
	case errors.Is(err, vsphere.ErrBadThumbprint), errors.Is(err, vsphere.ErrTrustConflict), errors.Is(err, vsphere.ErrBadCAFile),
		errors.Is(err, vsphere.ErrNotHTTPS), errors.Is(err, vsphere.ErrCredentialsInURL), errors.Is(err, vsphere.ErrNoEndpoint),
		errors.Is(err, errNoPassword):
		return nil, usageError(err)
	}
	return nil, err
}
