// Package vmdk reads every VMware virtual disk layout and snapshot chain
// found on ESXi datastores and in hosted (Workstation, Fusion, qemu)
// collections, and converts them to raw images an examiner can hash and
// hand to other tools.
//
// A disk is opened from its descriptor (a small text file, or the
// descriptor embedded in a hosted sparse file). Each descriptor becomes a
// Layer; Open follows parentFileNameHint links, checks every parentCID
// against the parent's CID and returns a Disk: an io.ReaderAt over the
// newest state of the guest disk with an allocation map that says, for
// every byte range, whether it holds data, reads as zeros, or was never
// written, and which layer answered.
//
// Layouts read natively, with only the standard library:
//   - raw extents: FLAT, VMFS, ZERO, and raw device mappings (VMFSRDM,
//     VMFSRAW) resolved to a collected device image;
//   - hosted sparse "KDMV" extents: monolithicSparse, twoGbMaxExtentSparse
//     and streamOptimized, both VMware's layout (footer, markers, grain
//     directory at the end) and qemu's (grain directory at the front);
//   - ESX sparse "COWD" snapshot deltas (vmfsSparse);
//   - seSparse snapshot deltas, refusing a file whose journal needs replay.
//
// The package also writes: flat base disks, COWD and seSparse deltas,
// monolithicSparse and streamOptimized files, and descriptors, so tests and
// the simulated ESXi host can build real files deterministically.
//
// The package knows nothing about how the files were collected (SSH, NFS);
// it reads a case folder.
//
// Trust rules: every pointer read from a file is checked against the file
// before it is followed, no allocation is sized by an unchecked header
// field, inconsistencies are errors or recorded warnings (never silently
// "repaired"), and Verify reports every inconsistency it finds instead of
// stopping at the first.
package vmdk
