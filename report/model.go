package report

import (
	"time"

	"github.com/esxsink/esxsink/custody"
)

// Verdict is the report's conclusion about one evidence file: the
// custody verdict model's state, the same collect and verify show.
type Verdict = custody.State

// Verdicts, from the records of the acquisition and of later verifications.
const (
	Verified          = custody.Verified
	CopiedLive        = custody.CopiedLive
	Received          = custody.Received
	Mismatch          = custody.Mismatch
	Failed            = custody.Failed
	NotVerified       = custody.NotVerified
	NotStarted        = custody.NotStarted
	Superseded        = custody.Superseded
	StateSkipped      = custody.Skipped
	StateNotCollected = custody.NotCollected
)

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
	// NotCollected is what the host holds that no run collected, with
	// the flag that would collect it.
	NotCollected []File `json:"not_collected,omitempty"`
	// Fleet is the case's hosts, each with its section, and the fleet's
	// totals; nil for a case of one host collected with collect --host.
	Fleet *Fleet `json:"fleet,omitempty"`
	// Clocks are the host's clock readings against ours.
	Clocks []custody.HostClock `json:"host_clocks,omitempty"`
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
	// CaseDetails are the evidence number, description and notes given
	// when the case was opened (a later session's fill in what is empty).
	custody.CaseDetails
	// Sessions are the invocations that wrote to the case: who, when,
	// with which command line.
	Sessions []Session `json:"sessions,omitempty"`
}

// Session is one session.opened record.
type Session struct {
	custody.Session
	Time time.Time `json:"time"`
	Line int       `json:"line"`
}

// Summary counts the evidence files by verdict and states the outcome.
type Summary struct {
	custody.Counts
	Anomalies int `json:"anomalies"`
	// Verdict is PASS, INCOMPLETE or FAIL, as esxsink verify would say
	// from the records; Problems are why it is not PASS.
	Verdict  string            `json:"verdict"`
	Problems []custody.Problem `json:"problems,omitempty"`
	// OK is true when the case is complete and intact (collect would have
	// exited 0): every planned file verified or copied live, the custody
	// log chain holds, no snapshot of ours was left behind, and the last
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
	// HostHashes are the hashes the run asked the host for; the sink
	// computed its own regardless.
	HostHashes []string `json:"host_hashes,omitempty"`
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

// File is one evidence file or planned copy with every hash recorded
// for it and its verdict (custody.Assess).
type File = custody.FileState

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
	Verdict     string              `json:"verdict,omitempty"`
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
