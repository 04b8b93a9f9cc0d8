package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/esxi"
)

// Custody record types of a host triage.
const (
	// custody.TypeTriageOutput ties a triage command's readable name to the exact
	// command, its exit status and its kept output (the command.run
	// record of the same Seq holds the same hashes).
	// TypeTriageListing is what the triage found to copy: the roots that
	// exist, those that do not, and the links it followed.
	TypeTriageListing = "triage.listing"
)

// KindHostFile is a planned file of the host itself (a log, a
// configuration file), not of a VM.
const KindHostFile = "host-file"

// TriageFolder is where host artifacts go in the evidence folder: files
// under TriageFolder/files/<path on the host>.
const TriageFolder = custody.HostArtifactsFolder

// TriageOptions says what a host triage gathers.
type TriageOptions struct {
	Runner Commander
	Log    Recorder
	Host   string
	RunID  string
	// Folder is where the host's files go in the evidence folder
	// (default TriageFolder); a fleet run gives each host its own, under
	// TriageFolder.
	Folder string
	// Commands and Paths default to esxi.TriageCommands and
	// esxi.TriagePaths.
	Commands []esxi.TriageCommand
	Paths    []esxi.TriagePath
	// ListOnly lists the files to copy and runs no triage command (a dry
	// run).
	ListOnly bool
	// CommandTimeout bounds each triage command (default 2 min): a hung
	// lsof on a busy host is a note, not a stuck acquisition.
	CommandTimeout time.Duration
	Logger         *slog.Logger
}

// TriageLink is a symbolic link among the host's artifacts; its target is
// copied once, under its own path.
type TriageLink struct {
	Path     string `json:"path"`
	Target   string `json:"target"`
	Resolved string `json:"resolved"`
	// Dest is where the target's copy goes ("" for a dangling link).
	Dest string `json:"dest,omitempty"`
}

// TriageResult is what a triage gathered and what it plans to copy.
type TriageResult struct {
	Host  string `json:"host"`
	RunID string `json:"run_id,omitempty"`
	// Folder is where the host's files go in the evidence folder.
	Folder  string                 `json:"folder"`
	Items   []PlanItem             `json:"items"`
	Outputs []custody.TriageOutput `json:"outputs"`
	Links   []TriageLink           `json:"links,omitempty"`
	Found   []string               `json:"found"`
	Missing []string               `json:"missing,omitempty"`
	Notes   []string               `json:"notes,omitempty"`
}

// Triage gathers a host's own state for an incident responder: it runs
// the triage commands through the Runner (each output kept and hashed in
// a command.run record, named in a triage.output record) and lists the
// host's logs and configuration files as plan items under
// host-artifacts/files/, which Collect then copies like any other file
// (host hash = sink hash = at-rest hash, file.verified). A missing tool
// or a failing command is a note; the error is for what stops the triage
// (a lost connection, cancellation, a listing that cannot be read).
func Triage(ctx context.Context, o TriageOptions) (*TriageResult, error) {
	if o.Runner == nil {
		return nil, errors.New("triage: a runner is required")
	}
	if o.Commands == nil {
		o.Commands = esxi.TriageCommands()
	}
	if o.Paths == nil {
		o.Paths = esxi.TriagePaths()
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 2 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Folder == "" {
		o.Folder = TriageFolder
	}
	res := &TriageResult{Host: o.Host, RunID: o.RunID, Folder: o.Folder}
	if !o.ListOnly {
		if err := runTriageCommands(ctx, o, res); err != nil {
			return res, err
		}
	}
	// Listed after the commands, so the logs copied hold the commands'
	// own traces (shell.log), up to the size listed here.
	if err := listTriageFiles(ctx, o, res); err != nil {
		return res, err
	}
	return res, nil
}

// runTriageCommands probes for the tools and runs every command whose
// tool is there.
func runTriageCommands(ctx context.Context, o TriageOptions, res *TriageResult) error {
	seen := map[string]bool{}
	var tools []string
	for _, c := range o.Commands {
		if !seen[c.Tool] {
			seen[c.Tool] = true
			tools = append(tools, c.Tool)
		}
	}
	have, err := askTools(ctx, o.Runner, o.Host, tools)
	switch {
	case errors.Is(err, errNoToolAnswer):
		// Run everything: a missing tool then shows as "not found".
		res.Notes = append(res.Notes, fmt.Sprintf("%v: every command is tried", err))
		have = nil
	case err != nil:
		return fmt.Errorf("triage: %w", err)
	}
	for _, c := range o.Commands {
		out := custody.TriageOutput{Host: o.Host, RunID: o.RunID, Name: c.Name, Command: c.Line, Why: c.Why, ExitStatus: -1}
		if have != nil && !have[c.Tool] {
			out.Note = fmt.Sprintf("not run: the host has no %s", c.Tool)
		} else {
			cctx, cancel := context.WithTimeout(ctx, o.CommandTimeout)
			r, err := o.Runner.Run(cctx, c.Line)
			cancel()
			if err != nil && (ctx.Err() != nil || !errors.Is(err, ErrCommandTimeout)) {
				return fmt.Errorf("triage command %s on %s: %w", c.Name, o.Host, err)
			}
			out.Ran, out.ExitStatus, out.CommandSeq, out.StdoutFile = true, r.ExitStatus, r.Seq, r.StdoutFile
			out.StdoutSHA256, out.StderrSHA256, out.StdoutBytes = sha256Hex(r.Stdout), sha256Hex(r.Stderr), int64(len(r.Stdout))
			switch {
			case err != nil:
				out.Note = fmt.Sprintf("stopped after %s: %v", o.CommandTimeout, err)
			case r.ExitStatus == 127 || errors.Is(esxi.Classify(string(r.Stderr)+string(r.Stdout)), esxi.ErrCommandNotFound):
				out.Note = "not run: command not found (" + clip(strings.TrimSpace(string(r.Stderr))) + ")"
			case r.ExitStatus != 0:
				msg := strings.TrimSpace(string(r.Stderr))
				if msg == "" {
					msg = strings.TrimSpace(string(r.Stdout)) // esxcli prints its errors on stdout
				}
				out.Note = fmt.Sprintf("exit status %d: %s", r.ExitStatus, clip(msg))
			}
		}
		if out.Note != "" {
			o.Logger.Info("triage command noted", "name", c.Name, "note", out.Note)
		}
		res.Outputs = append(res.Outputs, out)
		if o.Log != nil {
			if _, err := o.Log.Append(custody.TypeTriageOutput, out); err != nil {
				return fmt.Errorf("record triage output %s: %w", c.Name, err)
			}
		}
	}
	return nil
}

// listTriageFiles lists the artifact paths on the host and turns them into
// plan items.
func listTriageFiles(ctx context.Context, o TriageOptions, res *TriageResult) error {
	var roots []string
	for _, p := range o.Paths {
		roots = append(roots, p.Path)
	}
	cmd, err := esxi.CmdListTree(roots)
	if err != nil {
		return fmt.Errorf("triage: %w", err)
	}
	r, err := o.Runner.Run(ctx, cmd)
	if err != nil {
		return fmt.Errorf("list host artifacts on %s: %w", o.Host, err)
	}
	entries, err := esxi.ParseTreeListing(string(r.Stdout))
	if err != nil {
		return fmt.Errorf("list host artifacts on %s: %w (stderr: %s)", o.Host, err, clip(strings.TrimSpace(string(r.Stderr))))
	}
	live := func(p string) bool {
		for _, t := range o.Paths {
			if t.Live && (p == t.Path || strings.HasPrefix(p, strings.TrimSuffix(t.Path, "/")+"/")) {
				return true
			}
		}
		return false
	}
	planned := map[string]bool{}
	add := func(p string, size int64, isLive bool) string {
		if planned[p] {
			return triageDest(o.Folder, p)
		}
		planned[p] = true
		it := PlanItem{Source: p, Size: size, Kind: KindHostFile, Method: MethodCopy, Dest: triageDest(o.Folder, p), Live: isLive}
		if why := sinkNameProblem(p); why != "" {
			it.Method, it.Note, it.Dest = MethodSkip, "not copied: "+why, ""
		} else if isLive {
			it.Note = "live log: copied up to its size when its copy started; lines written later are not in the copy"
		}
		res.Items = append(res.Items, it)
		return it.Dest
	}
	found := map[string]bool{}
	for _, e := range entries {
		if e.Kind == 'M' {
			res.Missing = append(res.Missing, e.Path)
			continue
		}
		for _, t := range o.Paths {
			if e.Path == t.Path || strings.HasPrefix(e.Path, t.Path+"/") {
				found[t.Path] = true
			}
		}
		if e.Kind == 'F' {
			add(e.Path, e.Size, live(e.Path))
		}
	}
	// Links last: a target that is listed itself is copied once, under
	// its own path.
	for _, e := range entries {
		if e.Kind != 'L' {
			continue
		}
		l := TriageLink{Path: e.Path, Target: e.Target, Resolved: e.Resolved}
		if e.Size >= 0 {
			l.Dest = add(e.Resolved, e.Size, live(e.Path) || live(e.Resolved))
		} else {
			res.Notes = append(res.Notes, fmt.Sprintf("%s is a link to %s, which does not exist", e.Path, e.Target))
		}
		res.Links = append(res.Links, l)
	}
	for _, t := range o.Paths {
		if found[t.Path] {
			res.Found = append(res.Found, t.Path)
		}
	}
	sort.Slice(res.Items, func(i, j int) bool { return res.Items[i].Source < res.Items[j].Source })
	if o.Log != nil {
		rec := struct {
			Host    string       `json:"host"`
			RunID   string       `json:"run_id,omitempty"`
			Found   []string     `json:"found"`
			Missing []string     `json:"missing,omitempty"`
			Files   int          `json:"files"`
			Links   []TriageLink `json:"links,omitempty"`
			Notes   []string     `json:"notes,omitempty"`
		}{o.Host, o.RunID, res.Found, res.Missing, len(res.Items), res.Links, res.Notes}
		if _, err := o.Log.Append(TypeTriageListing, rec); err != nil {
			return fmt.Errorf("record triage listing: %w", err)
		}
	}
	return nil
}

// TriageDest is where a host file goes, relative to CASE/evidence.
func TriageDest(hostPath string) string { return triageDest(TriageFolder, hostPath) }

// FleetTriageFolder is a host's own folder of host artifacts in a fleet
// run, named by its inventory name: host-artifacts/<host>, so that two
// hosts' /etc/passwd never meet.
func FleetTriageFolder(host string) string { return TriageFolder + "/" + SafeName(host) }

func triageDest(folder, hostPath string) string {
	return folder + "/files/" + strings.TrimPrefix(path.Clean(hostPath), "/")
}

// sinkNameProblem says why the sink would refuse a host path as an
// evidence name ("" when it takes it): the sink keeps names as the host
// gave them and refuses rather than rewrites.
func sinkNameProblem(p string) string {
	for _, c := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		switch {
		case c == "" || c == "." || c == "..":
			return fmt.Sprintf("path %q has an empty or dot component", p)
		case len(c) > 255:
			return fmt.Sprintf("name %q is longer than 255 bytes", clip(c))
		case !utf8.ValidString(c):
			return fmt.Sprintf("name %q is not valid UTF-8, which the sink refuses", c)
		case strings.ContainsAny(c, "\\\x00"):
			return fmt.Sprintf("name %q contains a backslash, which the sink refuses", c)
		}
		for _, r := range c {
			if r < 0x20 || r == 0x7f {
				return fmt.Sprintf("name %q contains a control character, which the sink refuses", c)
			}
		}
	}
	return ""
}

// AddTriage adds a triage's files to the plan, so Collect copies them with
// the VMs' files through the same sink and records.
func (p *Plan) AddTriage(t *TriageResult) {
	for _, it := range t.Items {
		p.Items = append(p.Items, it)
		if it.Method != MethodSkip {
			p.Files++
			p.Bytes += it.Size
		}
	}
}
