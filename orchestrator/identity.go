package orchestrator

import "github.com/esxsink/esxsink/custody"

// IdentifyHost builds the host.identified data from the connection the
// examiner accepted and what discovery found.
func IdentifyHost(conn *Conn, user string, inv *Inventory) custody.HostIdentified {
	h := custody.HostIdentified{Address: conn.Addr(), User: user, HostKey: conn.HostKeyFingerprint(), HostKeyType: conn.HostKeyType(), Update: -1, Patch: -1}
	if inv != nil {
		v := inv.Host.Version
		h.Hostname, h.Product, h.Version, h.Build, h.Update, h.Patch = inv.Host.Hostname, v.Product, v.Version, v.Build, v.Update, v.Patch
	}
	return h
}
