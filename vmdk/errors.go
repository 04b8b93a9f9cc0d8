package vmdk

import (
	"errors"
	"fmt"
)

// Sentinel errors, for errors.Is. The errors returned carry the file and
// the detail; these only classify them.
var (
	// ErrCIDMismatch: a child's parentCID differs from its parent's CID, so
	// the parent was modified after the child was created (or the wrong
	// parent was found). Reading through it would mix two disk histories.
	ErrCIDMismatch = errors.New("parentCID does not match the parent's CID")
	// ErrMissingParent: a delta names a parent that is not in the case.
	ErrMissingParent = errors.New("parent disk not found")
	// ErrMissingDevice: a raw device mapping names a LUN whose image is
	// not in the case.
	ErrMissingDevice = errors.New("raw device image not found")
	// ErrDirtyJournal: a seSparse delta's journal must be replayed before
	// its grain tables can be trusted.
	ErrDirtyJournal = errors.New("seSparse journal needs replay")
	// ErrEncrypted: the disk is encrypted by vSphere VM encryption; the
	// extents hold ciphertext.
	ErrEncrypted = errors.New("disk is encrypted")
	// ErrCorrupt: a structure in a file is inconsistent or truncated.
	ErrCorrupt = errors.New("corrupt or truncated VMDK structure")
	// ErrUnsupported: a valid but unsupported feature.
	ErrUnsupported = errors.New("unsupported VMDK feature")
	// ErrOutsideRoot: a reference (extent, parent, mapped datastore,
	// symbolic link) leads outside the folder the chain may read.
	ErrOutsideRoot = errors.New("reference leads outside the root")
)

// DescriptorError reports a malformed descriptor line.
type DescriptorError struct {
	File   string // descriptor name as given to the parser ("" when unknown)
	Line   int    // 1-based; 0 when the problem is not on one line
	Reason string
}

// Error renders "vmdk: FILE line N: REASON".
func (e *DescriptorError) Error() string {
	where := e.File
	if where == "" {
		where = "descriptor"
	}
	if e.Line > 0 {
		return fmt.Sprintf("vmdk: %s line %d: %s", where, e.Line, e.Reason)
	}
	return fmt.Sprintf("vmdk: %s: %s", where, e.Reason)
}

// CIDMismatchError is returned when a child's parentCID is not its
// parent's CID. It matches ErrCIDMismatch.
type CIDMismatchError struct {
	Child, Parent string
	ParentCID     uint32 // as recorded in the child
	CID           uint32 // as found in the parent
}

// Error names both files and both CIDs, and says what to do.
func (e *CIDMismatchError) Error() string {
	return fmt.Sprintf("vmdk: %s: parentCID=%08x but its parent %s has CID=%08x: the parent changed after this delta was made, "+
		"or the wrong parent was found; check the chain with 'esxsink vmdk verify' (override with --ignore-cid only if you know why)",
		e.Child, e.ParentCID, e.Parent, e.CID)
}

// Is makes errors.Is(err, ErrCIDMismatch) true.
func (e *CIDMismatchError) Is(target error) bool { return target == ErrCIDMismatch }

// classified is an error whose text is complete on its own and which
// matches one sentinel for errors.Is.
type classified struct {
	msg  string
	kind error
}

func (e *classified) Error() string        { return e.msg }
func (e *classified) Is(target error) bool { return target == e.kind }

// corruptf builds an error that matches ErrCorrupt.
func corruptf(format string, args ...any) error {
	return &classified{fmt.Sprintf(format, args...), ErrCorrupt}
}

// unsupportedf builds an error that matches ErrUnsupported.
func unsupportedf(format string, args ...any) error {
	return &classified{fmt.Sprintf(format, args...), ErrUnsupported}
}
