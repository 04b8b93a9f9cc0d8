package vmdk

import (
	"fmt"
	"math"
)

// Plausibility limits. Every size, count and offset read from a
// descriptor or a header is checked against these before it is used in
// arithmetic or sizes an allocation, so a forged file fails at once with
// an error naming the file and the field (a FieldError) instead of
// overflowing, allocating without bound or running for hours. They are
// kept together here so the whole policy can be read in one place.
const (
	// MaxCapacity is the largest guest disk (and layer) accepted, in
	// bytes: 64 TiB. vSphere's largest virtual disk is 62 TB and its
	// largest physical-mode RDM 64 TiB; hosted products stop at 8 TiB.
	MaxCapacity = 64 << 40

	// maxSectors bounds any sector count or sector offset read from a
	// file before it is multiplied by SectorSize, so that every byte
	// offset, and the sum of two of them, stays inside an int64.
	maxSectors = 1<<54 - 1

	// MaxDescriptorSize is the largest descriptor accepted, stand-alone
	// or embedded. qemu reads at most 1 MiB - 1; real descriptors are
	// well under 4 KiB, so anything larger is not a descriptor.
	MaxDescriptorSize = 1 << 20

	// maxExtents bounds the extent lines of one descriptor: a
	// twoGbMaxExtent disk of 8 TiB (the hosted maximum) has 4096.
	maxExtents = 8192

	// maxChainDepth bounds a snapshot chain; ESXi allows 32 snapshots
	// and hosted products about 100, so anything deeper is a loop the
	// path check missed or a forgery.
	maxChainDepth = 255

	// maxGrainSectors bounds a hosted sparse or COWD grain: 1 GiB,
	// qemu's limit too.
	maxGrainSectors = 1 << 21

	// maxCompressedGrain bounds a compressed grain (sectors): each read
	// holds two of them in memory per worker. VMware writes 128 sectors.
	maxCompressedGrain = 1 << 15

	// maxGTEsPerGT bounds the entries of one hosted sparse grain table;
	// VMware writes 512.
	maxGTEsPerGT = 4096

	// maxGDEntries bounds a grain directory (qemu's limit too): 32 Mi
	// tables cover far more than any real disk. The directory must also
	// lie inside its file, which bounds the allocation by the file.
	maxGDEntries = 32 << 20

	// maxTableCache bounds the grain tables kept in memory per extent.
	maxTableCache = 64 << 20
)

// maxCapacitySectors is MaxCapacity in sectors.
const maxCapacitySectors = MaxCapacity / SectorSize

// FieldError reports a field of a file whose value is impossible or
// implausible: out of range, overflowing, past the end of the file, or
// above a limit of this package. It matches ErrCorrupt (or, for a valid
// but unsupported value, ErrUnsupported) with errors.Is.
type FieldError struct {
	File    string // the file holding the field
	Field   string // e.g. "header capacity", "extent line 5 sectors"
	Problem string // what is wrong and what to do
	kind    error
}

// Error renders "vmdk: FILE: FIELD: PROBLEM".
func (e *FieldError) Error() string {
	return fmt.Sprintf("vmdk: %s: %s: %s", e.File, e.Field, e.Problem)
}

// Is classifies the error for errors.Is.
func (e *FieldError) Is(target error) bool { return target == e.kind }

// fieldErrorf builds a FieldError that matches ErrCorrupt.
func fieldErrorf(file, field, format string, args ...any) error {
	return &FieldError{File: file, Field: field, Problem: fmt.Sprintf(format, args...), kind: ErrCorrupt}
}

// checkCapacity refuses a declared capacity (in sectors) that no real
// disk has.
func checkCapacity(file, field string, sectors uint64) error {
	if sectors > maxCapacitySectors {
		return fieldErrorf(file, field, "%d sectors (%s) is more than the largest disk accepted (%s): the header is damaged or forged",
			sectors, bigSize(sectors), sizeString(MaxCapacity))
	}
	return nil
}

// bigSize renders a sector count that may not fit a byte count in int64.
func bigSize(sectors uint64) string {
	if sectors <= maxSectors {
		return sizeString(int64(sectors) * SectorSize)
	}
	return fmt.Sprintf("%.3g bytes", float64(sectors)*SectorSize)
}

// addOK returns a+b and whether it fits an int64 (both non-negative).
func addOK(a, b int64) (int64, bool) {
	if a < 0 || b < 0 || a > math.MaxInt64-b {
		return 0, false
	}
	return a + b, true
}

// mulOK returns a*b and whether it fits an int64 (both non-negative).
func mulOK(a, b int64) (int64, bool) {
	if a < 0 || b < 0 || (a != 0 && b > math.MaxInt64/a) {
		return 0, false
	}
	return a * b, true
}

// ceilDiv is a/b rounded up without the overflow of (a+b-1)/b; a >= 0,
// b > 0.
func ceilDiv(a, b int64) int64 {
	if a == 0 {
		return 0
	}
	return (a-1)/b + 1
}
