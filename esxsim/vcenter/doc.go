// Package vcenter is a simulated vCenter for the lab: govmomi's simulator
// (vcsim) with its inventory generated from an esxsim fleet, so the
// vSphere API and the hosts' SSH shells describe one world.
//
// The datacenter, clusters, hosts, datastores and VMs have the scenario's
// names, UUIDs, power states, snapshot trees and file paths; a VM's files
// (layoutEx) are the files its host really has. Where vcsim lacks what an
// acquisition needs, this package adds managed objects of its own:
//
//   - a HostServiceSystem per host whose TSM-SSH StartService and
//     StopService open and close that host's SSH port (esxsim.Host.StartSSH)
//     and whose UpdateServicePolicy is kept by the host;
//   - a HostAccessManager per host reporting, and changing, the host's
//     lockdown mode; in lockdown the lab refuses to start TSM-SSH or TSM
//     with a HostConfigFault (see services.go for why);
//   - the hosts' advanced settings (UserVars, Syslog, VMkernel.Boot) in
//     each host's OptionManager, and the scenario's events in the
//     EventManager.
//
// The hosts are the truth: power states and service states are read from
// them whenever a client reads properties, and the API refuses what would
// make the two disagree (creating, changing or deleting VMs and files,
// renaming or moving inventory): change a host through its shell.
//
// vcsim keeps a little global state of its own (a host counter, task
// delays); this package sets none of it.
package vcenter
