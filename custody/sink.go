package custody

// Record types written by the sink and the log itself. The set is open:
// any type matching the syntax Append accepts verifies like these.
const (
	TypeCaseOpened    = "case.opened"    // CaseOpened
	TypeSinkStarted   = "sink.started"   // SinkStarted
	TypeMountAccepted = "mount.accepted" // Mount
	TypeMountRefused  = "mount.refused"  // Mount
	TypeFileCreated   = "file.created"   // FileCreated
	TypeFileFinalized = "file.finalized" // FileFinalized
	TypePolicyRefused = "policy.refused" // PolicyRefused
	TypeWriteAnomaly  = "write.anomaly"  // WriteAnomaly
	TypeNoSpace       = "no_space"       // NoSpace
	TypeSinkStopped   = "sink.stopped"   // SinkStopped
	TypeNote          = "note"           // Note
	TypeMountReleased = "mount.released" // Mount: the client unmounted
	TypeDirCreated    = "dir.created"    // FileCreated (no fileid)
	TypeFileResumed   = "file.resumed"   // FileResumed
	TypeWriteError    = "write.error"    // WriteAnomaly: the write failed
	TypeTornTail      = "log.torn_tail"  // TornTail; written only by the log itself
	TypeCaseVerified  = "case.verified"  // CaseVerified: what esxsink verify found
	// TypeFileSuperseded is written by the sink alone when it moves an
	// earlier attempt out of the path a new copy of the same source
	// takes: from then on the bytes finalized as From are at To.
	TypeFileSuperseded = "file.superseded" // FileSuperseded
)

// SupersededFolder is the top folder of the evidence folder where the sink
// keeps superseded attempts, as SupersededFolder/<run>/<path they had>.
const SupersededFolder = "superseded"

// Reasons a file was finalized (FileFinalized.Reason).
const (
	FinalizeAPI      = "api"      // the control API asked for it
	FinalizeIdle     = "idle"     // no write arrived for the idle timeout
	FinalizeShutdown = "shutdown" // the sink stopped
)

// CaseOpened starts a case: who acquires, with what, where.
type CaseOpened struct {
	CaseID      string `json:"case_id"`
	Examiner    string `json:"examiner"`
	ToolVersion string `json:"tool_version"`
	SinkHost    string `json:"sink_host"`
	OS          string `json:"os"`
	// UTCOffset is the examiner machine's offset from UTC when the case
	// was opened ("+09:00"): records are in UTC, a court reads local time.
	UTCOffset string `json:"utc_offset,omitempty"`
	CaseDetails
}

// SinkStarted records the sink's effective configuration. WriteVerifier is
// the NFS write verifier in hex; a new one after a restart tells clients to
// resend uncommitted data, so the log must show when it changed.
type SinkStarted struct {
	Config        map[string]any `json:"config"`
	WriteVerifier string         `json:"write_verifier"`
	Listen        []string       `json:"listen"`
}

// Mount is the data of mount.accepted and mount.refused.
type Mount struct {
	Client string `json:"client"`
	Path   string `json:"path"`
	Reason string `json:"reason,omitempty"`
}

// FileCreated records that a client created an evidence file.
type FileCreated struct {
	Path   string `json:"path"`
	FileID uint64 `json:"fileid,omitempty"`
	Client string `json:"client,omitempty"`
}

// FileResumed records that the sink took up a file that already held data
// it had not seen arrive (after a restart, or a write after finalization):
// its hashes will be computed from disk.
type FileResumed struct {
	Path       string `json:"path"`
	SizeOnDisk int64  `json:"size_on_disk"`
	Reason     string `json:"reason"`
}

// FileFinalized holds the hashes of a complete evidence file as the sink
// computed them from the bytes it received. The last file.finalized record
// for a path is what verification and the exports use.
type FileFinalized struct {
	Path           string            `json:"path"`
	Size           int64             `json:"size"`
	Hashes         map[string]string `json:"hashes"`
	PieceSize      int64             `json:"piece_size,omitempty"`
	PieceAlgorithm string            `json:"piece_algorithm,omitempty"`
	// Pieces holds one hex digest per PieceSize window; the last may be short.
	Pieces    []string `json:"pieces,omitempty"`
	Anomalies []string `json:"anomalies,omitempty"`
	Reason    string   `json:"reason"`
	// AtRest holds the hashes re-read from disk after the sync, when the
	// finalizing party asked for them; they must equal Hashes.
	AtRest map[string]string `json:"at_rest,omitempty"`
	// Received counts the bytes that arrived, identical resends included.
	Received int64 `json:"received,omitempty"`
	// FromDisk says the hashes were computed from the file on disk rather
	// than as the bytes arrived (after a restart or a rewrite).
	FromDisk bool `json:"from_disk,omitempty"`
}

// FileSuperseded records that the sink moved an earlier attempt at From
// (partial, zero-filled, failed, or a copy a later run replaces) to To, in
// the superseded area, so that the new copy keeps the host's name. The
// size and hashes are those of the bytes moved (From's last file.finalized:
// the sink finalizes an attempt before it moves it). Nothing is deleted.
type FileSuperseded struct {
	From   string            `json:"from"`
	To     string            `json:"to"`
	Size   int64             `json:"size"`
	Hashes map[string]string `json:"hashes"`
	// RunID is the run whose new copy needed From's path.
	RunID  string `json:"run_id,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// PolicyRefused records an operation the write-once policy refused.
type PolicyRefused struct {
	Client    string `json:"client"`
	Procedure string `json:"procedure"`
	Path      string `json:"path,omitempty"`
	Name      string `json:"name,omitempty"`
	Reason    string `json:"reason"`
}

// WriteAnomaly records a write the sink could not simply hash in order,
// such as a rewrite of an already hashed range. Kind is the sink's word.
type WriteAnomaly struct {
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	Kind   string `json:"kind"`
}

// NoSpace records a write refused because the evidence disk was full.
type NoSpace struct {
	Path      string `json:"path"`
	Offset    int64  `json:"offset"`
	Length    int64  `json:"length"`
	Written   int64  `json:"written"`
	FreeBytes uint64 `json:"free_bytes"`
}

// SinkStopped records why the sink stopped.
type SinkStopped struct {
	Reason         string `json:"reason"`
	FilesFinalized int    `json:"files_finalized,omitempty"`
	BytesReceived  int64  `json:"bytes_received,omitempty"`
}

// Note is free text from the examiner or a tool.
type Note struct {
	Text string `json:"text"`
}

// TornTail names the bytes of a line that a crash left unterminated. The
// line itself is left in place (the log is never rewritten) and skipped by
// the chain; this record, which follows it, vouches for exactly those bytes.
type TornTail struct {
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	SHA256 string `json:"sha256"`
}
