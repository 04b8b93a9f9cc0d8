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

// openCase opens the case the flags name (hashlog.OpenCase: case.opened
// for a new case, session.opened for every invocation, secrets redacted
// from the command line it records); what the examiner got wrong is a
// usage error.
func openCase(c *cli.Context, caseDir string) (*hashlog.Log, error) {
	if caseDir == "" {
		return nil, usageError(errors.New("--case is required"))
	}
	host, _ := os.Hostname()
	session := newSession(c, false, caseDetails(c))
	log, err := hashlog.OpenCase(caseDir, hashlog.CaseOpening{
		CaseID: c.String("case-id"), Examiner: c.String("examiner"), Session: session,
		Opened: custody.CaseOpened{ToolVersion: session.Tool, SinkHost: host, OS: runtime.GOOS + "/" + runtime.GOARCH, UTCOffset: session.UTCOffset},
	})
	var mismatch *hashlog.CaseMismatchError
	switch {
	case errors.Is(err, hashlog.ErrNewCaseUnnamed):
		return nil, usageError(fmt.Errorf("%s is a new case: give --case-id and --examiner so the custody log says whose case it is", caseDir))
	case errors.As(err, &mismatch):
		return nil, usageError(fmt.Errorf("%w: choose another --case folder", err))
	case errors.Is(err, hashlog.ErrLogLocked):
		return nil, fmt.Errorf("case %s is in use by another esxsink process: stop it first: %w", caseDir, err)
	case err != nil:
		return nil, err
	}
	for _, d := range log.Damage() {
		slog.Warn("the custody log of this case is damaged; new records are appended after it; run esxsink verify", "finding", d.String())
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
