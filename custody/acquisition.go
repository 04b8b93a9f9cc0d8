package custody

import (
	"fmt"
	"strings"
)

// Record types an acquisition run (esxsink collect, triage, cleanup)
// writes, besides the sink's.
const (
	TypeSessionOpened       = "session.opened" // Session: who ran which command line
	TypeRunFailed           = "run.failed"     // Step: a run that ended before or without copying
	TypeAcquisitionStarted  = "acquisition.started"
	TypeAcquisitionFinished = "acquisition.finished"
	TypeHostClock           = "host.clock" // HostClock
	TypeNASMounted          = "nas.mounted"
	TypeNASUnmounted        = "nas.unmounted"
	TypeMountChecked        = "mount.checked" // Step: the mount check file, not evidence
	TypeSnapshotCreated     = "snapshot.created"
	TypeSnapshotRemoved     = "snapshot.removed"
	TypeFilePlanned         = "file.planned"           // Step: one planned copy, before any copy starts
	TypeFileVerified        = "file.verified"          // Step
	TypeFileCopiedLive      = "file.copied_live"       // Step: read while it could change; both sizes recorded
	TypeFileFailed          = "file.failed"            // Step
	TypeFileNotStarted      = "file.not_started"       // Step: planned, never copied, with why
	TypeFileSkipped         = "file.skipped"           // Step: left by the plan, with why
	TypeNotCollected        = "evidence.not_collected" // Uncollected
	TypeCleanupFailed       = "cleanup.failed"
	TypeAcquisitionNote     = "acquisition.note"
	TypeHostIdentified      = "host.identified" // HostIdentified
	TypeCommandRun          = "command.run"     // CommandRun
	TypeTriageOutput        = "triage.output"   // TriageOutput
	TypeDatastores          = "host.datastores" // Datastores: where each datastore's files are in the case

	// A run's proof of ownership on the host, and what cleanup did or
	// would not do with what it found.
	TypeLeaseCreated   = "lease.created"   // Lease: the run's lease file on the host
	TypeLeaseRefreshed = "lease.refreshed" // Lease: a heartbeat
	TypeLeaseReleased  = "lease.released"  // Lease: removed, by the run or by cleanup
	TypeCleanupRefused = "cleanup.refused" // Lease: a run that may be alive, not undone
	TypeLeftAlone      = "cleanup.left_alone"
	// TypeSnapshotVanished: our snapshot is gone and we did not remove
	// it (someone else did); Affected are the files that were read
	// while it vanished and are therefore not verified.
	TypeSnapshotVanished = "snapshot.vanished"
	// TypeAnomaly: something of the run's own changed under it (its
	// mount, stop file or lease); Affected are the files it spoils.
	TypeAnomaly = "acquisition.anomaly"
)

// Lease is the data of the lease records: a run's lease file on the host
// (esxi.Lease) and, for cleanup, how old its heartbeat was.
type Lease struct {
	Host        string `json:"host"`
	RunID       string `json:"run_id"`
	Path        string `json:"path"`
	Workstation string `json:"workstation,omitempty"`
	Case        string `json:"case,omitempty"`
	PID         int    `json:"pid,omitempty"`
	// Heartbeat is the host's time of the last refresh (RFC 3339).
	Heartbeat  string `json:"heartbeat,omitempty"`
	AgeSeconds int64  `json:"age_seconds,omitempty"`
	// By is the run that wrote the record when it is not the lease's own
	// (esxsink cleanup).
	By   string `json:"by,omitempty"`
	Note string `json:"note,omitempty"`
}

// Datastores is the datastore table of one run: each datastore of the
// host with the names it goes by under /vmfs/volumes and the folder of
// the evidence folder that mirrors it. Descriptors name their extents and
// parents by any of those names; this table maps them into the case.
type Datastores struct {
	Host   string      `json:"host"`
	RunID  string      `json:"run_id,omitempty"`
	Stores []Datastore `json:"datastores"`
}

// Datastore is one row of the table.
type Datastore struct {
	Name string `json:"name"`
	UUID string `json:"uuid,omitempty"`
	Type string `json:"type,omitempty"`
	// Paths are the /vmfs/volumes paths that lead to it (by name, by
	// UUID, the mount point).
	Paths []string `json:"paths"`
	// Folder is its folder in the evidence folder: the name with only the
	// characters the workstation cannot store replaced.
	Folder string `json:"folder"`
}

// Session records one invocation of the tool on a case: who, with which
// command line (secrets redacted), on what machine. A case reopened by a
// second examiner has a session of each.
type Session struct {
	Examiner string   `json:"examiner"`
	Command  []string `json:"command"`
	Tool     string   `json:"tool_version,omitempty"`
	// Workstation is the examiner machine's host name.
	Workstation string `json:"workstation,omitempty"`
	UTCOffset   string `json:"utc_offset,omitempty"`
	// Reopened is set when the case already held records.
	Reopened bool `json:"reopened,omitempty"`
	CaseDetails
}

// CaseDetails are the case metadata examiners know from ewfacquire and
// Guymager; they travel in case.opened and in later sessions' records.
type CaseDetails struct {
	EvidenceNumber string `json:"evidence_number,omitempty"`
	Description    string `json:"description,omitempty"`
	Notes          string `json:"notes,omitempty"`
}

// Step is the data of most acquisition records: one thing a run did to
// or with one host, VM or file.
type Step struct {
	Host     string `json:"host"`
	RunID    string `json:"run_id"`
	VMID     int    `json:"vmid,omitempty"`
	VM       string `json:"vm,omitempty"`
	Label    string `json:"label,omitempty"`
	Snapshot string `json:"snapshot,omitempty"`
	SnapID   int    `json:"snapshot_id,omitempty"`
	Source   string `json:"source,omitempty"`
	Dest     string `json:"dest,omitempty"`
	Size     int64  `json:"size,omitempty"`
	// PlannedSize is the size discovery saw; SizeAtStart and SizeAtEnd
	// are the source's size right before and right after its copy.
	PlannedSize int64 `json:"planned_size,omitempty"`
	SizeAtStart int64 `json:"size_at_start,omitempty"`
	SizeAtEnd   int64 `json:"size_at_end,omitempty"`
	// HostHashes were computed on the host in the copy's read,
	// SinkHashes by the sink as the bytes arrived, AtRest re-read from
	// the sink's disk after the sync.
	HostHashes map[string]string `json:"host_hashes,omitempty"`
	SinkHashes map[string]string `json:"sink_hashes,omitempty"`
	// HostHashAlgorithms, on acquisition.started, are the hashes the run
	// asks the host for (the sink computes its own regardless).
	HostHashAlgorithms []string          `json:"host_hash_algorithms,omitempty"`
	AtRest             map[string]string `json:"at_rest_hashes,omitempty"`
	Attempt            int               `json:"attempt,omitempty"`
	// ReadErrors are the source's unreadable blocks, written as zeros.
	ReadErrors []string `json:"read_errors,omitempty"`
	// BadSectors are the unreadable sectors, zeros in the copy.
	BadSectors []SectorRange `json:"bad_sectors,omitempty"`
	Files      int           `json:"files,omitempty"`
	Failed     int           `json:"failed,omitempty"`
	Note       string        `json:"note,omitempty"`
	Error      string        `json:"error,omitempty"`
	// Kind and Method are the plan's; Live marks a file copied while its
	// VM was running, outside any snapshot.
	Kind   string `json:"kind,omitempty"`
	Method string `json:"method,omitempty"`
	Live   bool   `json:"live,omitempty"`
	// Image is, for the descriptor of a raw device mapping, the evidence
	// path of the image of the LUN it maps: its mapping file is not
	// copied (reading it reads the LUN), so a reader of the collected disk
	// takes the LUN's bytes from there.
	Image string `json:"image,omitempty"`
	// Superseded are earlier attempts kept on the sink that this one
	// replaces (evidence paths).
	Superseded []string `json:"superseded,omitempty"`
	// Affected are evidence paths an anomaly spoils: they are not
	// verified, whatever their own records say.
	Affected []string `json:"affected,omitempty"`
}

// HostClock compares the host's clock with ours: read once at the start
// and once at the end of every run. Offset is host minus workstation,
// taken at the midpoint of the command's round trip.
type HostClock struct {
	Host          string `json:"host"`
	RunID         string `json:"run_id,omitempty"`
	When          string `json:"when"` // "start" or "end"
	HostTime      string `json:"host_time"`
	WorkstationAt string `json:"workstation_time"`
	OffsetSeconds int64  `json:"offset_seconds"`
	// RoundTripMS bounds the reading's uncertainty.
	RoundTripMS int64  `json:"round_trip_ms"`
	Error       string `json:"error,omitempty"`
}

// Uncollected names evidence the host holds that the run did not
// collect, and the flag that would collect it.
type Uncollected struct {
	Host  string `json:"host"`
	RunID string `json:"run_id,omitempty"`
	// What is "unregistered VM", "RDM LUN", "USB device", "independent
	// disk", "VM" (registered, not chosen) or "unplaced VM" (registered,
	// but discovery cannot read it).
	What string `json:"what"`
	Name string `json:"name"`
	VMID int    `json:"vmid,omitempty"`
	Path string `json:"path,omitempty"`
	Size int64  `json:"size,omitempty"`
	// Flag is the collect option that would collect it ("" when none can).
	Flag string `json:"flag,omitempty"`
	Why  string `json:"why,omitempty"`
	// Missed says the run was asked to collect it (--all) and could not:
	// the case is then incomplete.
	Missed bool `json:"missed,omitempty"`
}

// CommandRun is the data of a command.run record: the examiner's
// footprint on the host, exact to the byte, with hashes of what came back.
type CommandRun struct {
	Seq          int64   `json:"seq"`
	Host         string  `json:"host"`
	Command      string  `json:"command"`
	ExitStatus   int     `json:"exit_status"`
	Started      string  `json:"started"`
	DurationSec  float64 `json:"duration_seconds"`
	StdoutSHA256 string  `json:"stdout_sha256"`
	StderrSHA256 string  `json:"stderr_sha256"`
	StdoutBytes  int64   `json:"stdout_bytes"`
	StderrBytes  int64   `json:"stderr_bytes"`
	StdoutFile   string  `json:"stdout_file,omitempty"`
	StderrFile   string  `json:"stderr_file,omitempty"`
	Error        string  `json:"error,omitempty"`
}

// HostIdentified is the data of a host.identified record: which host the
// examiner connected to and what it said it was.
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

// TriageOutput is one triage command's outcome, the data of its
// triage.output record.
type TriageOutput struct {
	Host       string `json:"host"`
	RunID      string `json:"run_id,omitempty"`
	Name       string `json:"name"`
	Command    string `json:"command"`
	Why        string `json:"why"`
	ExitStatus int    `json:"exit_status"`
	// Ran is false when the command was not run (its tool is missing).
	Ran bool `json:"ran"`
	// CommandSeq is the seq of the command.run record; StdoutFile is the
	// kept output relative to the case folder.
	CommandSeq   int64  `json:"command_seq,omitempty"`
	StdoutFile   string `json:"stdout_file,omitempty"`
	StdoutSHA256 string `json:"stdout_sha256,omitempty"`
	StdoutBytes  int64  `json:"stdout_bytes"`
	StderrSHA256 string `json:"stderr_sha256,omitempty"`
	// Note says why a command did not run or did not succeed; a note is
	// not a failure of the triage.
	Note string `json:"note,omitempty"`
}

// HostArtifactsFolder is the top folder of the evidence that comes from
// the host itself (logs, configuration, triage), not from a VM.
const HostArtifactsFolder = "host-artifacts"

// SectorSize is the unit of bad-sector ranges.
const SectorSize = 512

// SectorRange is a run of unreadable 512-byte sectors of a source: in the
// copy they are zeros.
type SectorRange struct {
	First int64 `json:"first_sector"`
	Count int64 `json:"sectors"`
}

func (r SectorRange) String() string {
	return fmt.Sprintf("sectors %d-%d (bytes %d-%d)", r.First, r.First+r.Count-1, r.First*SectorSize, (r.First+r.Count)*SectorSize-1)
}

// VolumeFolders reads the datastore tables (host.datastores) in recs and
// maps each name a datastore has under /vmfs/volumes (its name, its UUID)
// to its folder in the evidence folder, so that a descriptor's absolute
// /vmfs/volumes/<uuid or name>/… reference resolves inside the case. A
// later table wins for a name two tables give the same datastore (UUID).
// A name that tables give two different datastores (each host's own
// datastore1) is left out: which one a reference by that name means
// depends on the host that wrote it, so it is not guessed (their UUID
// paths still resolve).
func VolumeFolders(recs []Record) map[string]string {
	out := map[string]string{}
	owner := map[string]string{} // name -> UUID
	ambiguous := map[string]bool{}
	for _, r := range recs {
		if r.Type != TypeDatastores {
			continue
		}
		var t Datastores
		if r.Decode(&t) != nil {
			continue
		}
		for _, ds := range t.Stores {
			for _, p := range ds.Paths {
				rest, ok := strings.CutPrefix(p, "/vmfs/volumes/")
				if !ok || rest == "" || strings.Contains(rest, "/") || ds.Folder == "" {
					continue
				}
				if u, seen := owner[rest]; seen && u != ds.UUID {
					ambiguous[rest] = true
				}
				owner[rest], out[rest] = ds.UUID, ds.Folder
			}
		}
	}
	for name := range ambiguous {
		delete(out, name)
	}
	return out
}

// DeviceImages reads, from the planned copies in recs, where the LUN
// behind each collected raw device mapping is imaged: the evidence path
// of an RDM's descriptor maps to that of its LUN's image. Only an image
// the case holds whole (verified, or copied live with matching hashes)
// is named: a partial or failed copy would read as a LUN it is not.
func DeviceImages(recs []Record) map[string]string {
	held := map[string]bool{}
	planned := map[string]string{}
	for _, r := range recs {
		var s Step
		switch r.Type {
		case TypeFilePlanned:
			if r.Decode(&s) == nil && s.Image != "" && s.Dest != "" {
				planned[s.Dest] = s.Image
			}
		case TypeFileVerified, TypeFileCopiedLive:
			if r.Decode(&s) == nil && s.Dest != "" {
				held[s.Dest] = true
			}
		case TypeFileSuperseded:
			var m FileSuperseded
			if r.Decode(&m) == nil {
				delete(held, m.From)
			}
		}
	}
	out := map[string]string{}
	for desc, img := range planned {
		if held[img] {
			out[desc] = img
		}
	}
	return out
}

// EvidenceNames is how a case's collected files were named: the host's
// name of a file or folder that had to change to be stored on the
// workstation, mapped to the name it has in the evidence folder, per
// evidence folder.
type EvidenceNames map[[2]string]string // {evidence folder, host name} -> evidence name

// CollectedNames reads the planned copies in recs: for each file of a
// datastore whose evidence path differs from its host path (a name made
// storable), every changed name along the path.
func CollectedNames(recs []Record) EvidenceNames {
	out := EvidenceNames{}
	for _, r := range recs {
		var s Step
		if r.Type != TypeFilePlanned || r.Decode(&s) != nil || s.Dest == "" {
			continue
		}
		rest, ok := strings.CutPrefix(s.Source, "/vmfs/volumes/")
		if !ok {
			continue
		}
		host, dest := strings.Split(rest, "/"), strings.Split(s.Dest, "/")
		if len(host) != len(dest) || len(host) < 2 {
			continue
		}
		dir := dest[0] // the datastore's folder, which the table names
		for i := 1; i < len(host); i++ {
			if host[i] != dest[i] {
				out[[2]string{dir, host[i]}] = dest[i]
			}
			dir += "/" + dest[i]
		}
	}
	return out
}

// Translate maps rel, a slash path relative to the evidence folder as the
// host names it, to the path the case holds it at.
func (n EvidenceNames) Translate(rel string) string {
	var cur string
	for i, c := range strings.Split(rel, "/") {
		if i > 0 {
			if e, ok := n[[2]string{cur, c}]; ok {
				c = e
			}
			cur += "/"
		}
		cur += c
	}
	return cur
}
