package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/nfssink"
	"github.com/esxsink/esxsink/orchestrator"
	"github.com/esxsink/esxsink/vsphere"
)

// TestAdviceNamesFlags: the libraries' errors name no flags; the CLI adds
// the flags that help, found through the error chain however it is
// wrapped. The advice is text the examiner reads, so text is compared.
func TestAdviceNamesFlags(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("connect to 10.0.0.21: %w", err) }
	for _, c := range []struct {
		err  error
		want string
	}{
		{&orchestrator.UnknownHostKeyError{Host: "h", KeyType: "ssh-ed25519", Fingerprint: "SHA256:abc"}, "--host-key SHA256:abc"},
		{wrap(orchestrator.ErrNoHostKeyPolicy), "--known-hosts"},
		{wrap(orchestrator.ErrBadFingerprint), "--host-key"},
		{wrap(orchestrator.ErrNoLogin), "--password-file"},
		{wrap(orchestrator.ErrNoAgent), "--agent"},
		{fmt.Errorf("k: %w", orchestrator.ErrEncryptedKey), "--agent"},
		{orchestrator.ErrNoVMChosen, "--vm"},
		{&orchestrator.SelectionError{Err: orchestrator.ErrNoVMChosen}, "--vm"},
		{&orchestrator.SelectionError{Err: fmt.Errorf("%w %q on h", orchestrator.ErrNoDevice, "mpx.vmhba32:C0:T0:L0")}, "esxsink inventory"},
		{errors.Join(fmt.Errorf("%w: %w", orchestrator.ErrRefused, fmt.Errorf("run x: %w", orchestrator.ErrStaleLease))), "--force"},
		{wrap(orchestrator.ErrSinkLost), "--resume"},
		{wrap(orchestrator.ErrCustodyLog), "--resume"},
		{wrap(orchestrator.ErrNoSFTP), "--transport nfs"},
		{fmt.Errorf("sink /c: %w", nfssink.ErrNoSink), "esxsink serve --case"},
		{wrap(nfssink.ErrPortmapTaken), "--portmap=off"},
		{wrap(nfssink.ErrPortmapMode), "--portmap"},
		{wrap(nfssink.ErrNoClientAllowed), "--allow"},
		{&vsphere.UnknownThumbprintError{Host: "vc:443", Thumbprint: "AB:CD"}, "--vcenter-thumbprint AB:CD"},
		{fmt.Errorf("x: %w", &vsphere.ThumbprintMismatchError{Host: "vc:443", Thumbprint: "EF:01", Pinned: "AB:CD"}), "--vcenter-thumbprint EF:01 only once"},
		{wrap(vsphere.ErrBadThumbprint), "--vcenter-thumbprint"},
		{wrap(vsphere.ErrTrustConflict), "--vcenter-ca, not both"},
		{wrap(vsphere.ErrBadCAFile), "--vcenter-ca"},
		{wrap(vsphere.ErrLoginRefused), "--vcenter-user"},
		{wrap(vsphere.ErrNoUser), "--vcenter-user"},
		{wrap(vsphere.ErrNotHTTPS), "https://HOST/sdk"},
		{wrap(vsphere.ErrCredentialsInURL), "--vcenter-password-file"},
	} {
		if got := withAdvice(c.err); !strings.Contains(got, c.want) || !strings.HasPrefix(got, c.err.Error()) {
			t.Errorf("%v: %q, want it to name %q", c.err, got, c.want)
		}
		if strings.Contains(c.err.Error(), "--") {
			t.Errorf("the library error %q names a flag itself", c.err)
		}
	}
	if got := withAdvice(errors.New("plain")); got != "plain" {
		t.Errorf("no advice: %q", got)
	}
}
