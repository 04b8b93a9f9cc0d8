package hashlog

import (
	"errors"
	"fmt"
	"os"

	"github.com/esxsink/esxsink/custody"
)

// ErrNewCaseUnnamed: a case is being opened for the first time without
// the case id and the examiner its first record must name.
var ErrNewCaseUnnamed = errors.New("a new case needs a case id and an examiner")

// CaseMismatchError: the folder holds another case than the one named.
type CaseMismatchError struct {
	Dir       string
	Have, Ask string // the case id on record, and the one asked for
}

func (e *CaseMismatchError) Error() string {
	return fmt.Sprintf("%s belongs to case %q, not %q", e.Dir, e.Have, e.Ask)
}

// CaseOpening says who opens a case and with what: the first record of a
// new case (case.opened) and the session record every opening writes.
type CaseOpening struct {
	// CaseID and Examiner are required for a new case; a CaseID given
	// for an existing case must be the one on record.
	CaseID, Examiner string
	// Opened describes the case when it is new: tool version, sink
	// host, OS, UTC offset (its CaseID, Examiner and CaseDetails are
	// taken from the fields above and Session).
	Opened custody.CaseOpened
	// Session is this invocation (its Reopened is set here).
	Session custody.Session
}

// OpenCase opens the custody log of the case in caseDir for appending and
// writes how it was opened: case.opened for a new case, a note naming the
// tool and workstation for an existing one, and session.opened every time,
// so that a second examiner reopening the case is on record. Damage found
// in an existing log does not stop it (Log.Damage lists it). Nothing is
// written when the case is refused (ErrNewCaseUnnamed, *CaseMismatchError,
// ErrLogLocked).
func OpenCase(caseDir string, o CaseOpening) (*Log, error) {
	_, statErr := os.Stat(LogPath(caseDir))
	isNew := errors.Is(statErr, os.ErrNotExist)
	if isNew && (o.CaseID == "" || o.Examiner == "") {
		return nil, fmt.Errorf("%s: %w", caseDir, ErrNewCaseUnnamed)
	}
	if !isNew && o.CaseID != "" {
		// Reopening appends; a different case id is a mistake worth
		// stopping for, before anything is written.
		if m, err := ReadManifest(caseDir); err == nil && m.CaseID != "" && m.CaseID != o.CaseID {
			return nil, &CaseMismatchError{Dir: caseDir, Have: m.CaseID, Ask: o.CaseID}
		}
	}
	log, err := Open(caseDir)
	if err != nil {
		return nil, err
	}
	o.Session.Reopened = !isNew
	if isNew {
		opened := o.Opened
		opened.CaseID, opened.Examiner, opened.CaseDetails = o.CaseID, o.Examiner, o.Session.CaseDetails
		_, err = log.Append(custody.TypeCaseOpened, opened)
	} else {
		_, err = log.Append(custody.TypeNote, custody.Note{Text: fmt.Sprintf("case reopened by %s on %s", o.Session.Tool, o.Session.Workstation)})
	}
	if err == nil {
		_, err = log.Append(custody.TypeSessionOpened, o.Session)
	}
	if err != nil {
		log.Close()
		return nil, err
	}
	return log, nil
}
