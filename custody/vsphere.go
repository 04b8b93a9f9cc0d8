package custody

// Record types of the vSphere API side (package vsphere): a session on a
// vCenter or on an ESXi host's own API, and every change made through it.
const (
	// TypeVCenterConnected: a session opened, with the certificate that
	// was trusted and what vouched for it.
	TypeVCenterConnected = "vcenter.connected" // VCenterConnected
	// TypeHostServiceChanged: a host service (TSM-SSH) was started or
	// stopped or its policy set, with its state before and after; a call
	// that failed is recorded too, with its error.
	TypeHostServiceChanged = "host.service_changed" // ServiceChange
)

// VCenterConnected is the data of a vcenter.connected record.
type VCenterConnected struct {
	// Endpoint is host:port of the API; URL the SDK URL used.
	Endpoint string `json:"endpoint"`
	URL      string `json:"url"`
	User     string `json:"user"`
	RunID    string `json:"run_id,omitempty"`
	// Thumbprint is the SHA-256 thumbprint (colon-separated hex) of the
	// certificate the endpoint presented; TrustedBy says what vouched for
	// it ("pinned thumbprint" or "CA file PATH").
	Thumbprint string `json:"thumbprint_sha256"`
	TrustedBy  string `json:"trusted_by"`
	// What the endpoint says it is (its AboutInfo). APIType is
	// "VirtualCenter" for a vCenter, "HostAgent" for an ESXi host.
	Product      string `json:"product"`
	Version      string `json:"version"`
	Build        string `json:"build"`
	APIType      string `json:"api_type"`
	InstanceUUID string `json:"instance_uuid,omitempty"`
}

// ServiceState is a host service's state: whether it runs and its
// startup policy ("on", "off" or "automatic", as the API names them).
type ServiceState struct {
	Running bool   `json:"running"`
	Policy  string `json:"policy"`
}

// Service actions (ServiceChange.Action).
const (
	ServiceStart  = "start"
	ServiceStop   = "stop"
	ServicePolicy = "policy"
)

// ServiceChange is the data of a host.service_changed record: one call to
// a host's service system, the state read right before it and right
// after it.
type ServiceChange struct {
	Endpoint  string `json:"endpoint"`
	Host      string `json:"host"`
	HostMoRef string `json:"host_moref"`
	RunID     string `json:"run_id,omitempty"`
	// Service is the service's key, e.g. TSM-SSH.
	Service string `json:"service"`
	Action  string `json:"action"`
	// Policy is the policy asked for by a policy action.
	Policy string       `json:"policy,omitempty"`
	Before ServiceState `json:"before"`
	// After is nil when the state could not be read after the call.
	After *ServiceState `json:"after,omitempty"`
	Error string        `json:"error,omitempty"`
}

// Changed says whether the host's service differs after the call from
// before it (false when the after state is unknown).
func (c ServiceChange) Changed() bool { return c.After != nil && *c.After != c.Before }

// TypeEvidenceKept: a file esxsink wrote into the case itself, from what
// it read through an API (the vCenter-side evidence of a triage), rather
// than one a host copied through the sink. It is written once and synced
// before the record is appended, and re-read from disk to take AtRest:
// the bytes read, the bytes written and the bytes at rest are the same.
// A part that could not be read is an evidence.not_collected record.
const TypeEvidenceKept = "evidence.kept" // Kept

// VCenterFolder is the case's folder (beside the evidence folder, not in
// it: nothing here came through the sink) of the vCenter-side evidence.
const VCenterFolder = "vcenter"

// WhatVCenterEvidence is the What of an evidence.not_collected record of
// a part of the vCenter-side evidence that could not be read; its Host is
// the endpoint, not an ESXi host.
const WhatVCenterEvidence = "vCenter evidence"

// KindVCenterTriage is the Kind of the acquisition.started,
// acquisition.finished and run.failed records of a triage --vcenter run:
// it reads the API only, so it is no fleet run and no host's.
const KindVCenterTriage = "vcenter-triage"

// KeptKind starts the Kind of a kept file's FileState; the part's name
// follows.
const KeptKind = "kept: "

// Kept is the data of an evidence.kept record.
type Kept struct {
	// Path is relative to the case folder, slash-separated
	// (vcenter/events.json).
	Path string `json:"path"`
	Size int64  `json:"size"`
	// SHA256 is of the bytes as written; AtRest of the file re-read from
	// disk after the sync.
	SHA256 string `json:"sha256"`
	AtRest string `json:"at_rest_sha256"`
	// Source is where it was read (a vCenter's host:port), Name the
	// part's short name (events, access, settings esx01), What the calls
	// and scope that read it, Why what an examiner looks for in it.
	Source string `json:"source"`
	Name   string `json:"name"`
	What   string `json:"what"`
	Why    string `json:"why,omitempty"`
	RunID  string `json:"run_id,omitempty"`
}

// Intact says the kept file re-read from disk is what was written: both
// hashes recorded and equal. The judge, the closing statement and the
// listing of kept files count by it alike.
func (k Kept) Intact() bool { return k.SHA256 != "" && k.SHA256 == k.AtRest }
