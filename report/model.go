package report

import (
	"time"

	"github.com/esxsink/esxsink/custody"
)

// Verdict is the report's conclusion about one evidence file.
type Verdict string

// Verdicts, from the records of the acquisition and of later verifications.
const (
	// Verified: the host's hash, the hash of the bytes as they arrived and
	// the hash re-read at rest agree, and no later verification failed.
	Verified Verdict = "verified"
	// Mismatch: the hashes recorded for the file disagree.
	Mismatch Verdict = "MISMATCH"
	// Failed: the copy did not complete or could not be checked.
	Failed Verdict = "FAILED"
	// NotVerified: the file verified when it was acquired, but a later
	// `esxsink verify` found it changed, missing or unreadable.
	NotVerified Verdict = "NOT VERIFIED"
	// Received: the sink received and hashed the file, but no host-side
	// hash was recorded for it (copied by hand, or an attempt that a retry
	// replaced). Its integrity since arrival is still checked by verify.
	Received Verdict = "received"
)

// Good reports whether v needs no explanation in a court's eyes.
func (v Verdict) Good() bool { return v == Verified || v == Received }

// KindCheck is the kind of a file the tool wrote through the mount to
// prove the path before copying (known content, compared on arrival).
const KindCheck = "mount-check"

// Report is everything the acquisition report states, as read from the
// case folder. WriteJSON writes exactly this.
type Report struct {
	// Generated is when the report was made; Generator the program that
	// made it (the caller fills it in).
	Generated time.Time `json:"generated"`
	Generator string    `json:"generator,omitempty"`
	CaseDir   string    `json:"case_dir"`
	Case      Case      `json:"case"`
	Summary   Summary   `json:"summary"`
	Hosts     []Host    `json:"hosts"`
	Runs      []Run     `json:"runs"`
	// VMs hold the evidence files of each VM, in the order the log names
	// them; files of no VM (host devices, files received by hand) are in
	// a VM with an empty name.
	VMs       []VM       `json:"vms"`
	Skipped   []Skipped  `json:"skipped,omitempty"`
	Artifacts Artifacts  `json:"host_artifacts"`
	Commands  []Command  `json:"commands"`
	Anomalies []Event    `json:"anomalies"`
	Notes     []Event    `json:"notes,omitempty"`
	Log       LogState   `json:"custody_log"`
	Verifies  []Verify   `json:"verifications"`
	Snapshots []Snapshot `json:"snapshots"`
}

// Case is who opened the case, with what, where.
type Case struct {
	ID          string    `json:"id"`
	Examiner    string    `json:"examiner"`
	ToolVersion string    `json:"tool_version"`
	SinkHost    string    `json:"sink_host"`
	OS          string    `json:"os"`
	Opened      time.Time `json:"opened"`
	// UTCOffset is the examiner machine's offset from UTC ("+09:00"),
	// "" when the case did not record it.
	UTCOffset string `json:"utc_offset,omitempty"`
}

// Summary counts the evidence files by verdict and states the outcome.
type Summary struct {
	Files       int   `json:"files"`
	Bytes       int64 `json:"bytes"`
	Verified    int   `json:"verified"`
	Received    int   `json:"received"`
	Mismatch    int   `json:"mismatch"`
	Failed      int   `json:"failed"`
	NotVerified int   `json:"not_verified"`
	Skipped     int   `json:"skipped"`
	Anomalies   int   `json:"anomalies"`
	// OK is true when every file is verified or received, the custody log
	// chain holds, no snapshot of ours was left behind, and the last
	// verification (if any) passed.
	OK bool `json:"ok"`
	// Statement is the outcome in one sentence.
	Statement string `json:"statement"`
}

// Host is an ESXi host the examiner connected to.
type Host struct {
	custody.HostIdentified
	Identified time.Time `json:"identified,omitzero"`
	// Recorded is false for a host only known from other records (a case
	// collected before host.identified existed).
	Recorded bool `json:"recorded"`
}

// Run is one `esxsink collect` (an acquisition run).
type Run struct {
	ID       string    `json:"run_id"`
	Host     string    `json:"host"`
	Label    string    `json:"label,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	Planned  int       `json:"planned_files,omitempty"`
	Bytes    int64     `json:"planned_bytes,omitempty"`
	Files    int       `json:"files,omitempty"`
	Failed   int       `json:"failed,omitempty"`
	Error    string    `json:"error,omitempty"`
	// Mounted and Unmounted are the times the sink was attached to the
	// host as a datastore (esxcfg-nas) and detached.
	Mounted   time.Time `json:"mounted,omitzero"`
	Unmounted time.Time `json:"unmounted,omitzero"`
	Share     string    `json:"share,omitempty"`
}

// VM groups the evidence files of one virtual machine.
type VM struct {
	// Title names the group in the report: the VM, the host's devices,
	// the tool's check files, or files received without a record.
	Title string `json:"title"`
	Name  string `json:"name"`
	ID    int    `json:"vmid,omitempty"`
	Host  string `json:"host,omitempty"`
	Files []File `json:"files"`
}

// File is one evidence file with every hash recorded for it.
type File struct {
	// Path is relative to the case's evidence folder.
	Path   string `json:"path"`
	Source string `json:"source,omitempty"`
	VM     string `json:"vm,omitempty"`
	VMID   int    `json:"vmid,omitempty"`
	Host   string `json:"host,omitempty"`
	RunID  string `json:"run_id,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Method string `json:"method,omitempty"`
	// Live marks a file copied while its VM was running, outside a
	// snapshot: the copy may not be consistent.
	Live bool   `json:"live,omitempty"`
	Note string `json:"note,omitempty"`
	Size int64  `json:"size"`
	// HostHashes were computed on the ESXi host in the copy's read,
	// Arrival by the sink as the bytes arrived, AtRest re-read from the
	// sink's disk after the sync.
	HostHashes map[string]string `json:"host_hashes,omitempty"`
	Arrival    map[string]string `json:"arrival_hashes,omitempty"`
	AtRest     map[string]string `json:"at_rest_hashes,omitempty"`
	// ReadErrors are the source's unreadable ranges, zero-filled in the
	// image (dd conv=noerror,sync).
	ReadErrors []string `json:"read_errors,omitempty"`
	// BadSectors are the unreadable 512-byte sectors, zeros in the copy.
	BadSectors []custody.SectorRange `json:"bad_sectors,omitempty"`
	Anomalies  []string              `json:"anomalies,omitempty"`
	Attempts   int                   `json:"attempts,omitempty"`
	Time       time.Time             `json:"time"`
	// Line is the custody log line of the record the verdict rests on.
	Line    int     `json:"line"`
	Verdict Verdict `json:"verdict"`
	// Reason explains a verdict other than verified.
	Reason string `json:"reason,omitempty"`
	// CheckedAt is the last verification covering this file, if any.
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

// Skipped is a planned file that was not copied, and why.
type Skipped struct {
	VM     string    `json:"vm,omitempty"`
	Source string    `json:"source"`
	Size   int64     `json:"size,omitempty"`
	Why    string    `json:"why"`
	Time   time.Time `json:"time"`
	Line   int       `json:"line"`
}

// Snapshot is a snapshot the tool took to freeze a running VM's disks.
type Snapshot struct {
	VM      string    `json:"vm"`
	VMID    int       `json:"vmid"`
	Host    string    `json:"host"`
	Name    string    `json:"name"`
	ID      int       `json:"id"`
	Created time.Time `json:"created"`
	// Removed is zero when no record says the snapshot was removed.
	Removed time.Time `json:"removed,omitzero"`
	// CleanupError is the recorded failure to remove it, if any.
	CleanupError string `json:"cleanup_error,omitempty"`
}

// Artifacts are what host triage collected: records of type
// triage.output and evidence files under host-artifacts/.
type Artifacts struct {
	Outputs []Artifact `json:"outputs,omitempty"`
	Files   []File     `json:"files,omitempty"`
}

// Artifact is one triage.output record, read field by field so that the
// report does not depend on the triage code's types.
type Artifact struct {
	Name       string            `json:"name,omitempty"`
	Why        string            `json:"why,omitempty"`
	Command    string            `json:"command,omitempty"`
	NotRun     bool              `json:"not_run,omitempty"`
	Note       string            `json:"note,omitempty"`
	ExitStatus *int              `json:"exit_status,omitempty"`
	Output     string            `json:"output_file,omitempty"`
	Hashes     map[string]string `json:"hashes,omitempty"`
	Time       time.Time         `json:"time"`
	Line       int               `json:"line"`
}

// Command is one command run on the host: the examiner's footprint.
type Command struct {
	N            int       `json:"n"`
	Host         string    `json:"host"`
	Command      string    `json:"command"`
	ExitStatus   int       `json:"exit_status"`
	Status       string    `json:"status"`
	Started      time.Time `json:"started"`
	Seconds      float64   `json:"duration_seconds"`
	StdoutSHA256 string    `json:"stdout_sha256,omitempty"`
	StdoutBytes  int64     `json:"stdout_bytes"`
	StdoutFile   string    `json:"stdout_file,omitempty"`
	StderrSHA256 string    `json:"stderr_sha256,omitempty"`
	StderrBytes  int64     `json:"stderr_bytes"`
	StderrFile   string    `json:"stderr_file,omitempty"`
	Error        string    `json:"error,omitempty"`
	Line         int       `json:"line"`
}

// Event is an anomaly, refusal or note, in the words of the report.
type Event struct {
	Time time.Time `json:"time,omitzero"`
	Line int       `json:"line,omitempty"`
	Type string    `json:"type"`
	// Kind is refusal, anomaly, failure or notice.
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// Event kinds.
const (
	KindRefusal = "refusal"
	KindAnomaly = "anomaly"
	KindFailure = "failure"
	KindNotice  = "notice"
)

// LogState is the custody log as the report read it.
type LogState struct {
	Path    string `json:"path"`
	Records int    `json:"records"`
	HeadSeq int64  `json:"head_seq"`
	// Head is the SHA-256 of the last line: write it down; an edited or
	// removed last line is only detectable against it.
	Head string `json:"head"`
	// ChainOK is false when walking the chain found a failure (Findings).
	ChainOK  bool              `json:"chain_ok"`
	Findings []custody.Finding `json:"findings,omitempty"`
}

// Verify is one recorded run of `esxsink verify`.
type Verify struct {
	Time        time.Time           `json:"time"`
	Line        int                 `json:"line"`
	Seq         int64               `json:"seq"`
	OK          bool                `json:"ok"`
	HeadSeq     int64               `json:"head_seq"`
	Head        string              `json:"head"`
	Files       int                 `json:"files"`
	Verified    int                 `json:"verified"`
	FailedFiles []custody.FileCheck `json:"failed_files,omitempty"`
	Failures    []custody.Finding   `json:"failures,omitempty"`
	ToolVersion string              `json:"tool_version,omitempty"`
	// After counts the records appended after this verification's own:
	// what it did not cover.
	After int `json:"records_after"`
}
