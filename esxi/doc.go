// Package esxi knows what an ESXi host says and how to ask it things: it
// builds shell command lines for the host's busybox ash (vim-cmd, esxcli,
// esxcfg-nas, vmkfstools, dd, the hash tools) and parses what comes back
// (command output and the small files discovery reads: .vmx, .vmsd).
//
// The package does no I/O. The orchestrator runs the commands over SSH,
// reads the files, and hands the bytes here; keeping parsing pure lets every
// parser be fuzzed and tested against recorded output without a host.
//
// # Commands
//
// Every value that reaches a command line passes through [Quote], which
// wraps it in single quotes, the one quoting form ash never looks inside.
// Builders that take strings validate them first and return an error wrapping
// [ErrInvalidArgument] for values a shell command line cannot carry safely: a
// NUL byte (ssh and sh -c end the command there, which could cut a command
// short after a valid prefix) and relative paths (they would depend on the
// SSH session's working directory, and a name starting with "-" would read as
// an option). There is deliberately no builder for vim-cmd
// snapshot.removeall: our own snapshot is found by its unique name and
// removed by id, never together with the owner's snapshots.
//
// # Parsers
//
// Discovery trusts structure, not columns. vim-cmd vmsvc/getallvms is a
// source of vmids only (names contain spaces and brackets, annotations span
// lines, the Annotation column disappears); names, paths and disks come from
// the .vmx ([ParseVMX]), the snapshot database ([ParseVMSD]) and esxcli with
// --formatter=csv ([ParseCSV] and the typed helpers such as [VMProcesses]).
// Each parser returns typed values, or a [*ParseError] naming the line and
// the reason; none panics on any input (each has a fuzz target).
//
// Output that is an error message rather than the expected text is
// recognised by [Classify], which maps the messages ESXi prints (a busy
// unmount, a busy device, an unknown vmid, a share exported under another
// label, NFS mount failures, a missing command) to sentinel errors for
// errors.Is.
//
// VMDK descriptors are not parsed here: discovery calls
// vmdk.ParseDescriptor, whose Descriptor already answers what discovery asks
// (CreateType says delta or RDM, Extents name the data files,
// ParentFileNameHint names the parent). A second, lighter parser would only
// disagree with it on some input.
package esxi
