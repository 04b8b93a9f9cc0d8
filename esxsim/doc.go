// Package esxsim is a simulated VMware ESXi host for tests, examples and
// `esxsink lab`. It must not be used by production code paths.
//
// A Host is built from a Scenario (YAML, see examples/lab/): host identity,
// VMFS datastores, VMs with their files (.vmx, descriptors, flat extents,
// .nvram, .vmsd, logs, swap files), snapshot trees, RDMs, USB and LUN
// devices, recorded outputs that replace a command's output with text from a
// real host, and injected faults. It serves SSH (golang.org/x/crypto/ssh)
// with password, keyboard-interactive and public-key logins; exec requests
// and interactive shells run in a POSIX shell interpreter (mvdan.cc/sh) whose
// commands, redirections and globs go to the simulated host:
//
//   - vim-cmd vmsvc/* (getallvms, power.getstate, get.summary, get.config,
//     snapshot.get/create/remove), esxcli (vm process list, storage nfs
//     add/list/remove, storage core device list, storage filesystem list,
//     system version/hostname get) with --formatter=csv|xml|keyvalue,
//     esxcfg-nas -a/-l/-d, vmkfstools -q, lsusb, vmware -v/-l, uname;
//   - busybox applets with busybox's messages and exit codes: ls, find,
//     cat, stat, dd, md5sum, sha1sum, sha256sum, tee, head, wc, grep,
//     mkdir, rm, sleep, df, date, hostname.
//
// Large files (flat extents, LUNs, swap and memory files) are generated on
// read from a seed, 64 KiB blocks at a time with runs of zeros, so a lab with
// terabytes of disks needs little memory and ReadAt is O(1). Snapshots are
// real: snapshot.create writes seSparse (VMFS-6) or vmfsSparse (VMFS-5)
// deltas with the vmdk package, the running VM's writes go to the active
// delta, and snapshot.remove consolidates. Running VMs hold locks: the
// extent they write, their swap files and the .vmx lock answer "Device or
// resource busy". VM disks and LUN and USB devices start with a partition
// table and a FAT16 file system holding a guest's usual files and the
// scenario's planted ones (guestdisk.go), so The Sleuth Kit lists them.
//
// NFS datastores are real: esxcfg-nas -a asks the portmapper at the server
// for mountd, mounts over NFSv3/TCP with internal/nfsclient, sends GETATTR
// heartbeats and writes with several WRITEs in flight; files under
// /vmfs/volumes/LABEL are read and written through that connection.
//
// A FleetScenario describes several hosts (NewFleet): each serves SSH on
// its own address and port, and datastores the scenario shares are one set
// of nodes every member host sees. A host's TSM-SSH service can be
// stopped and started (StartSSH, StopSSH: the port really closes and
// opens), and lockdown mode refuses SSH logins as ESXi does. Package
// esxsim/vcenter puts a simulated vCenter over a fleet.
//
// Every command line is recorded (Footprint, and /var/log/shell.log on the
// host); State reports mounts, VMs, snapshots and locks so a test can prove
// an acquisition left nothing behind. AddFault and FaultsFired control and
// observe injected failures.
package esxsim
