package main

import (
	"errors"
	"fmt"

	"github.com/esxsink/esxsink/nfssink"
	"github.com/esxsink/esxsink/orchestrator"
	"github.com/esxsink/esxsink/vsphere"
)

// advice says what to do about err in this command line's words. The
// libraries name no flags: their errors say what went wrong, typed or
// wrapping a sentinel, and this turns them into the options that help.
// "" when there is nothing to add.
func advice(err error) string {
	var unknownKey *orchestrator.UnknownHostKeyError
	var unknownCert *vsphere.UnknownThumbprintError
	var changedCert *vsphere.ThumbprintMismatchError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &unknownCert):
		return fmt.Sprintf("verify it out of band with the vCenter administrator, then pass --vcenter-thumbprint %s (or --vcenter-ca with the CA that signed it)", unknownCert.Thumbprint)
	case errors.As(err, &changedCert):
		return fmt.Sprintf("pass --vcenter-thumbprint %s only once the vCenter administrator confirms that certificate", changedCert.Thumbprint)
	case errors.Is(err, vsphere.ErrBadThumbprint):
		return "give --vcenter-thumbprint as the vSphere Client shows it: the SHA-256 thumbprint, AB:CD:..."
	case errors.Is(err, vsphere.ErrTrustConflict):
		return "give --vcenter-thumbprint or --vcenter-ca, not both"
	case errors.Is(err, vsphere.ErrBadCAFile):
		return "--vcenter-ca takes a PEM file of the CA certificate"
	case errors.Is(err, vsphere.ErrLoginRefused):
		return "check --vcenter-user and the password (--vcenter-password-file, ESXSINK_VCENTER_PASSWORD or the prompt)"
	case errors.Is(err, vsphere.ErrNoUser):
		return "give --vcenter-user"
	case errors.Is(err, vsphere.ErrNotHTTPS), errors.Is(err, vsphere.ErrNoEndpoint):
		return "give --vcenter as HOST, HOST:PORT or https://HOST/sdk"
	case errors.Is(err, vsphere.ErrCredentialsInURL):
		return "give the user with --vcenter-user and the password with --vcenter-password-file, ESXSINK_VCENTER_PASSWORD or the prompt"
	case errors.As(err, &unknownKey):
		return fmt.Sprintf("pass --host-key %s, or add the host to the --known-hosts file", unknownKey.Fingerprint)
	case errors.Is(err, orchestrator.ErrBadFingerprint):
		return "give --host-key as ssh-keygen -lf prints it: SHA256:..."
	case errors.Is(err, orchestrator.ErrNoHostKeyPolicy):
		return "give --known-hosts FILE or --host-key SHA256:..."
	case errors.Is(err, orchestrator.ErrEncryptedKey):
		return "then use --agent"
	case errors.Is(err, orchestrator.ErrNoAgent):
		return "--agent needs a running ssh-agent"
	case errors.Is(err, orchestrator.ErrNoLogin):
		return "give a password (prompt, --password-file or ESXSINK_PASSWORD), --key or --agent"
	case errors.Is(err, orchestrator.ErrNoDevice):
		return "esxsink inventory lists the host's devices"
	case errors.Is(err, orchestrator.ErrNoVMChosen):
		return "give --vm NAME|VMID or --all"
	case errors.Is(err, orchestrator.ErrStaleLease):
		return "if you are sure it is dead, run cleanup again with --force"
	case errors.Is(err, orchestrator.ErrSinkLost), errors.Is(err, orchestrator.ErrCustodyLog):
		return "then run the same collect again with --resume"
	case errors.Is(err, orchestrator.ErrNoSFTP):
		return "or copy over NFS: --transport nfs"
	case errors.Is(err, nfssink.ErrNoSink):
		return "start one with `esxsink serve --case CASE`, or check the case folder"
	case errors.Is(err, nfssink.ErrPortmapTaken):
		return "or use --portmap=off if the client is told the ports"
	case errors.Is(err, nfssink.ErrPortmapMode):
		return "--portmap takes auto, builtin, rpcbind or off"
	case errors.Is(err, nfssink.ErrNoClientAllowed):
		return "give --allow CIDR (the ESXi host's address) or --allow-any"
	}
	return ""
}

// withAdvice is err followed by its advice, for printing.
func withAdvice(err error) string {
	if a := advice(err); a != "" {
		return err.Error() + "; " + a
	}
	return err.Error()
}
