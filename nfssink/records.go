package nfssink

// Custody-log record types written by the sink.
const (
	RecSinkStarted   = "sink.started"
	RecSinkStopped   = "sink.stopped"
	RecMountAccepted = "mount.accepted"
	RecMountRefused  = "mount.refused"
	RecUnmount       = "mount.released"
	RecFileCreated   = "file.created"
	RecDirCreated    = "dir.created"
	RecFileResumed   = "file.resumed"
	RecFileFinalized = "file.finalized"
	RecPolicyRefused = "policy.refused"
	RecWriteAnomaly  = "write.anomaly"
	RecWriteError    = "write.error"
	RecNoSpace       = "no_space"
)

type mountRecord struct {
	Client string `json:"client"`
	Path   string `json:"path"`
	Reason string `json:"reason,omitempty"`
}

type fileCreated struct {
	Path   string `json:"path"`
	FileID uint64 `json:"fileid,omitempty"`
	Client string `json:"client,omitempty"`
}

type fileResumed struct {
	Path   string `json:"path"`
	Size   int64  `json:"size_on_disk"`
	Reason string `json:"reason"`
}

type policyRefusal struct {
	Client    string `json:"client"`
	Procedure string `json:"procedure"`
	Path      string `json:"path,omitempty"`
	Reason    string `json:"reason"`
}

type writeAnomaly struct {
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	Kind   string `json:"kind"`
}

type noSpace struct {
	Path      string `json:"path"`
	Offset    int64  `json:"offset"`
	Length    int64  `json:"length"`
	Written   int64  `json:"written"`
	FreeBytes int64  `json:"free_bytes"`
}

type sinkStarted struct {
	Verifier string         `json:"verifier"`
	NFS      string         `json:"nfs_address"`
	Portmap  string         `json:"portmap"`
	Config   map[string]any `json:"config"`
}

type sinkStopped struct {
	Reason        string `json:"reason"`
	FilesFinal    int    `json:"files_finalized"`
	BytesReceived int64  `json:"bytes_received"`
}
