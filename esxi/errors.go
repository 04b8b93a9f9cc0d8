package esxi

import (
	"errors"
	"regexp"
	"slices"
	"strings"
)

// Messages ESXi prints that the orchestrator must act on. Each is matched
// as a substring of one output line, case as printed.
const (
	// MsgUnmountBusy: esxcli storage nfs remove / esxcfg-nas -d while a
	// file on the datastore is open ("NFS Error: Unable to Unmount
	// filesystem: Busy."). Retry with backoff; never leave the mount.
	MsgUnmountBusy = "Unable to Unmount filesystem: Busy"
	// MsgDeviceBusy: a file held by a running VM (the active delta, .vswp,
	// .vmx.lck) cannot be opened.
	MsgDeviceBusy = "Device or resource busy"
	// MsgVMNotFound: vim-cmd vmsvc/* with a vmid that is not registered.
	MsgVMNotFound = "Unable to find a VM corresponding"
	// MsgAlreadyExported: esxcli storage nfs add for a host:share that is
	// already mounted; the line ends with the existing label.
	MsgAlreadyExported = "is already exported by a volume with the name"
	// MsgReadOnlyFS: a write to a read-only mount or export.
	MsgReadOnlyFS = "Read-only file system"
	// MsgPermissionDenied: e.g. a root-squashed export.
	MsgPermissionDenied = "Permission denied"
	// MsgNoSpace: the sink or the host's ramdisk is full.
	MsgNoSpace = "No space left on device"
)

// NFSMountFailure is one of the VMkernel status texts behind a failed NFS
// mount ("NFS Error: ..." from esxcfg-nas and esxcli, and vmkernel.log).
type NFSMountFailure struct {
	Code string // VMkernel status name
	Text string
}

// nfsMountFailures are the NFS statuses from the VMkernel return-status
// table, in table order.
var nfsMountFailures = []NFSMountFailure{
	{"VMK_NFS_CONNECT_FAILURE", "Unable to connect to NFS server"},
	{"VMK_NFS_MOUNT_NOT_SUPPORTED", "The NFS server does not support MOUNT version 3 over TCP"},
	{"VMK_NFS_NFS_NOT_SUPPORTED", "The NFS server does not support requested NFS version over TCP"},
	{"VMK_NFS_MOUNT_DENIED", "The NFS server denied the mount request"},
	{"VMK_NFS_MOUNT_NOT_DIR", "The specified mount path was not a directory"},
	{"VMK_NFS_BAD_FSINFO", "Unable to query remote mount point's attributes"},
	{"VMK_NFS_VOLUME_LIMIT_EXCEEDED", "NFS has reached the maximum number of supported volumes"},
}

// Sentinel errors for errors.Is on what [Classify] returns.
var (
	ErrUnmountBusy      = errors.New("datastore busy, cannot unmount")
	ErrDeviceBusy       = errors.New("device or resource busy")
	ErrVMNotFound       = errors.New("no VM with that vmid")
	ErrAlreadyExported  = errors.New("share already mounted under another label")
	ErrNFSMount         = errors.New("NFS mount failed")
	ErrCommandNotFound  = errors.New("command not found on the host")
	ErrReadOnlyFS       = errors.New("read-only file system")
	ErrPermissionDenied = errors.New("permission denied")
	ErrNoSpace          = errors.New("no space left on device")
)

// HostError is a recognised ESXi error message. It matches its Kind with
// errors.Is.
type HostError struct {
	Kind error  // one of the Err* sentinels above
	Line string // the output line that matched, trimmed
	// Name is the missing command for ErrCommandNotFound, the existing
	// label for ErrAlreadyExported, and the VMkernel status code
	// (VMK_NFS_...) for ErrNFSMount.
	Name string
}

// Error implements error.
func (e *HostError) Error() string { return "esxi: " + e.Kind.Error() + ": " + e.Line }

// Unwrap returns Kind.
func (e *HostError) Unwrap() error { return e.Kind }

var (
	// busybox ash: "sh: md5sum: not found"; a login shell: "-sh: ...";
	// some builds add "line N".
	notFound = regexp.MustCompile(`^-?(?:sh|ash|bash)(?:: line \d+)?: (.+): not found$`)
	exported = regexp.MustCompile(`is already exported by a volume with the name (.+?)\.?$`)
)

var simpleMessages = []struct {
	text string
	kind error
}{
	{MsgUnmountBusy, ErrUnmountBusy},
	{MsgDeviceBusy, ErrDeviceBusy},
	{MsgVMNotFound, ErrVMNotFound},
	{MsgReadOnlyFS, ErrReadOnlyFS},
	{MsgPermissionDenied, ErrPermissionDenied},
	{MsgNoSpace, ErrNoSpace},
}

// Classify finds the error messages ESXi printed in output (standard output
// or error of one command) and returns them as [*HostError]s joined with
// errors.Join, in line order, or nil when there is none. Use errors.Is to
// test for a kind and errors.As for the details.
func Classify(output string) error {
	var errs []error
	for _, raw := range lines(output) {
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		if m := notFound.FindStringSubmatch(line); m != nil {
			errs = append(errs, &HostError{Kind: ErrCommandNotFound, Line: line, Name: m[1]})
			continue
		}
		if m := exported.FindStringSubmatch(line); m != nil {
			errs = append(errs, &HostError{Kind: ErrAlreadyExported, Line: line, Name: m[1]})
			continue
		}
		if f, ok := nfsFailure(line); ok {
			errs = append(errs, &HostError{Kind: ErrNFSMount, Line: line, Name: f.Code})
			continue
		}
		for _, s := range simpleMessages {
			if strings.Contains(line, s.text) {
				errs = append(errs, &HostError{Kind: s.kind, Line: line})
				break
			}
		}
	}
	return errors.Join(errs...)
}

func nfsFailure(line string) (NFSMountFailure, bool) {
	for _, f := range nfsMountFailures {
		if strings.Contains(line, f.Text) {
			return f, true
		}
	}
	return NFSMountFailure{}, false
}

// NFSMountFailures returns the NFS statuses from the VMkernel's
// return-status table that mean a mount failed (a copy: the table is
// not for callers to change).
func NFSMountFailures() []NFSMountFailure { return slices.Clone(nfsMountFailures) }
