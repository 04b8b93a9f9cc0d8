// Package vsphere is esxsink's side of the vSphere API (govmomi): it
// finds datacenters, clusters, hosts, datastores and VMs through a
// vCenter or an ESXi host's own API, reads and changes a host's services
// (TSM-SSH, so that SSH is open only for a run), and fetches the
// vCenter-side evidence a triage keeps (events, tasks, permissions and
// roles, sessions, hosts' advanced settings).
//
// TLS is always verified: by a pinned certificate thumbprint or by a CA
// file. With neither, or when neither vouches, Dial refuses the endpoint
// and says which thumbprint it presented, so the examiner can check it
// with the vCenter administrator and pin it, as with an unknown SSH host
// key. The password is asked for only after the endpoint is trusted.
//
// Every call that changes something on a host goes through a Client that
// has a custody log (Config.Log): each is recorded with the state before
// and after it, and a Client without a log refuses to change anything.
// The package knows nothing about NFS or the acquisition itself.
package vsphere
