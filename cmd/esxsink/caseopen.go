package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/hashlog"
)

// openCase opens the custody log of caseDir, records case.opened for a
// new case, and a session.opened for every invocation: who, with which
// command line (secrets redacted), so that a second examiner reopening
// the case is on record.
func openCase(c *cli.Context, caseDir string) (*hashlog.Log, error) {
	caseID, examiner := c.String("case-id"), c.String("examiner")
	if caseDir == "" {
		return nil, usageError(errors.New("--case is required"))
	}
	_, statErr := os.Stat(hashlog.LogPath(caseDir))
	isNew := errors.Is(statErr, os.ErrNotExist)
	if isNew && (caseID == "" || examiner == "") {
		return nil, usageError(fmt.Errorf("%s is a new case: give --case-id and --examiner so the custody log says whose case it is", caseDir))
	}
	if !isNew && caseID != "" {
		// Reopening appends; a different case id is a mistake worth
		// stopping for, before anything is written.
		if m, err := hashlog.ReadManifest(caseDir); err == nil && m.CaseID != "" && m.CaseID != caseID {
			return nil, usageError(fmt.Errorf("%s belongs to case %q, not %q: choose another --case folder", caseDir, m.CaseID, caseID))
		}
	}
	log, err := hashlog.Open(caseDir)
	if err != nil {
		if errors.Is(err, hashlog.ErrLogLocked) {
			return nil, fmt.Errorf("case %s is in use by another esxsink process: stop it first: %w", caseDir, err)
		}
		return nil, err
	}
	for _, d := range log.Damage() {
		slog.Warn("the custody log of this case is damaged; new records are appended after it; run esxsink verify", "finding", d.String())
	}
	host, _ := os.Hostname()
	details := caseDetails(c)
	if isNew {
		if _, err := log.Append(custody.TypeCaseOpened, custody.CaseOpened{
			CaseID: caseID, Examiner: examiner, ToolVersion: "esxsink " + version,
			SinkHost: host, OS: runtime.GOOS + "/" + runtime.GOARCH, UTCOffset: time.Now().Format("-07:00"),
			CaseDetails: details,
		}); err != nil {
			log.Close()
			return nil, err
		}
	} else if _, err := log.Append(custody.TypeNote, custody.Note{Text: fmt.Sprintf("case reopened by esxsink %s on %s", version, host)}); err != nil {
		log.Close()
		return nil, err
	}
	if _, err := log.Append(custody.TypeSessionOpened, newSession(c, !isNew, details)); err != nil {
		log.Close()
		return nil, err
	}
	return log, nil
}

func caseDetails(c *cli.Context) custody.CaseDetails {
	return custody.CaseDetails{EvidenceNumber: c.String("evidence-number"), Description: c.String("description"), Notes: c.String("notes")}
}

// newSession describes this invocation for its session.opened record.
func newSession(c *cli.Context, reopened bool, details custody.CaseDetails) custody.Session {
	host, _ := os.Hostname()
	return custody.Session{Examiner: c.String("examiner"), Command: redactArgs(os.Args), Tool: "esxsink " + version,
		Workstation: host, UTCOffset: time.Now().Format("-07:00"), Reopened: reopened, CaseDetails: details}
}

// secretFlags name the flags whose value is a secret; a file that holds
// one (--password-file) is named, its content never read here.
var secretFlags = []string{"password", "passphrase", "secret", "token"}

// redactArgs returns args with the value of every secret flag replaced,
// in both --flag=value and --flag value forms.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	redactNext := false
	for i, a := range args {
		if redactNext {
			out[i], redactNext = "[REDACTED]", false
			continue
		}
		out[i] = a
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || strings.HasSuffix(name, "-file") || !isSecretFlag(name) {
			continue
		}
		if hasValue {
			out[i] = a[:strings.Index(a, "=")+1] + "[REDACTED]"
		} else {
			redactNext = true
		}
	}
	return out
}

func isSecretFlag(name string) bool {
	name = strings.ToLower(name)
	for _, s := range secretFlags {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}
