// Package orchestrator drives an acquisition on an ESXi host over SSH:
// connection and host-key policy, the commands it runs (each one a
// custody-log record with hashes of its output), discovery, the plan,
// copying through the sink, verification and guaranteed cleanup.
//
// Policy decisions — accepting a host key, asking for a password,
// reconnecting after a lost connection — are callbacks the CLI fills in and
// tests replace, in the style of golang.org/x/crypto/ssh. Text from the
// host is parsed by package esxi, never here, and every command line is
// built by esxi's builders, which quote every value.
//
// The flow of `esxsink collect`:
//
//   - [Discover] inventories the host with read-only commands: version,
//     host name, datastores, registered VMs (getallvms is trusted for vmids
//     only; names and paths come from get.config and the .vmx), power
//     states, snapshot trees, disks with their descriptors, extents and
//     RDM devices, every file of each VM folder, and .vmx files on VMFS
//     datastores that no registered VM uses (unregistered VMs).
//   - [SelectVMs] and [MakePlan] turn the inventory into a [Plan]: every
//     file with its kind, size, method and destination under
//     CASE/evidence/<datastore>/<path on it>, names the workstation
//     cannot store made storable and tagged ([EvidenceName]), disks
//     followed through their snapshot chains into other folders and
//     datastores; lock files, swap files and independent disks of
//     running VMs are listed as skipped, with the reason.
//   - [Collect] mounts the sink under a label unique to the run
//     (esxsink-RUNID) and checks it is listed; copies each VM's
//     configuration and logs first, then (running VMs) takes a snapshot
//     named esxsink-RUNID-vmN, finds its id by that name and copies the
//     disks it froze, never the delta it created, and removes it by id
//     (never removeall), confirming it is gone. Each file is copied in one
//     pass (dd | tee DST | md5sum) and verified host hash = sink hash =
//     at-rest hash; a mismatch is copied again next to the first attempt
//     (the sink keeps finalized files read-only). Our snapshot is removed
//     and the mount detached on success, on error, on cancellation and
//     after a lost connection (through CollectOptions.Redial). Every step
//     is a custody record.
package orchestrator
