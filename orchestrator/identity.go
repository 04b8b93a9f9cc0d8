package orchestrator

// HostIdentified is the data of a host.identified record: which host the
// examiner connected to and what it said it was, as structured data for
// the acquisition report (the note written at connection is for people).
type HostIdentified struct {
	Address string `json:"address"`
	User    string `json:"user,omitempty"`
	// HostKey is the SHA256: fingerprint of the key the host presented
	// and the examiner accepted.
	HostKey     string `json:"host_key"`
	HostKeyType string `json:"host_key_type,omitempty"`
	Hostname    string `json:"hostname,omitempty"`
	Product     string `json:"product,omitempty"`
	Version     string `json:"version,omitempty"`
	Build       int64  `json:"build,omitempty"`
	// Update is -1 when the host did not print it, like Patch.
	Update int `json:"update"`
	Patch  int `json:"patch"`
}

// IdentifyHost builds the host.identified data from the connection the
// examiner accepted and what discovery found.
func IdentifyHost(conn *Conn, user string, inv *Inventory) HostIdentified {
	h := HostIdentified{Address: conn.Addr(), User: user, HostKey: conn.HostKeyFingerprint(), HostKeyType: conn.HostKeyType(), Update: -1, Patch: -1}
	if inv != nil {
		v := inv.Host.Version
		h.Hostname, h.Product, h.Version, h.Build, h.Update, h.Patch = inv.Host.Hostname, v.Product, v.Version, v.Build, v.Update, v.Patch
	}
	return h
}
