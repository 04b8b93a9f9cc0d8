// Package orchestrator drives an acquisition on an ESXi host over SSH:
// connection and host-key policy, the commands it runs (each one a
// custody-log record with hashes of its output), discovery, the plan,
// copying through the sink, verification and guaranteed cleanup.
//
// Policy decisions — accepting a host key, asking for a password — are
// callbacks the CLI fills in and tests replace, in the style of
// golang.org/x/crypto/ssh. Text from the host is parsed by package esxi,
// never here.
package orchestrator
