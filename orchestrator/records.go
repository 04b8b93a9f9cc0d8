package orchestrator

// Custody record types the orchestrator writes (besides command.run).
const (
	TypeAcquisitionStarted  = "acquisition.started"
	TypeAcquisitionFinished = "acquisition.finished"
	TypeNASMounted          = "nas.mounted"
	TypeNASUnmounted        = "nas.unmounted"
	TypeSnapshotCreated     = "snapshot.created"
	TypeSnapshotRemoved     = "snapshot.removed"
	TypeFileVerified        = "file.verified"
	TypeFileFailed          = "file.failed"
	TypeFileSkipped         = "file.skipped"
	TypeCleanupFailed       = "cleanup.failed"
	TypeNote                = "acquisition.note"
	TypeHostIdentified      = "host.identified" // HostIdentified
)

// StepRecord is the data of the orchestrator's custody records.
type StepRecord struct {
	Host     string            `json:"host"`
	RunID    string            `json:"run_id"`
	VMID     int               `json:"vmid,omitempty"`
	VM       string            `json:"vm,omitempty"`
	Label    string            `json:"label,omitempty"`
	Snapshot string            `json:"snapshot,omitempty"`
	SnapID   int               `json:"snapshot_id,omitempty"`
	Source   string            `json:"source,omitempty"`
	Dest     string            `json:"dest,omitempty"`
	Size     int64             `json:"size,omitempty"`
	Host1    map[string]string `json:"host_hashes,omitempty"`
	Sink     map[string]string `json:"sink_hashes,omitempty"`
	AtRest   map[string]string `json:"at_rest_hashes,omitempty"`
	Attempt  int               `json:"attempt,omitempty"`
	// ReadErrors are the source's unreadable blocks, written as zeros.
	ReadErrors []string `json:"read_errors,omitempty"`
	// BadSectors are the unreadable sectors, zeros in the copy.
	BadSectors []SectorRange `json:"bad_sectors,omitempty"`
	Files      int           `json:"files,omitempty"`
	Failed     int           `json:"failed,omitempty"`
	Note       string        `json:"note,omitempty"`
	Error      string        `json:"error,omitempty"`
	// Kind and Method are the plan's (PlanItem); Live marks a file copied
	// while its VM was running, outside any snapshot.
	Kind   string `json:"kind,omitempty"`
	Method string `json:"method,omitempty"`
	Live   bool   `json:"live,omitempty"`
}
