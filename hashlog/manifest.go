package hashlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/esxsink/esxsink/custody"
)

// Export formats accepted by Export.
const (
	FormatHashdeep   = "hashdeep"   // hashdeep known-file (audit with hashdeep -a)
	FormatMD5Sums    = "md5sums"    // md5sum -c list
	FormatSHA1Sums   = "sha1sums"   // sha1sum -c list
	FormatSHA256Sums = "sha256sums" // sha256sum -c list
	FormatDFXML      = "dfxml"      // Digital Forensics XML
)

// Formats lists the export formats.
func Formats() []string {
	return []string{FormatHashdeep, FormatMD5Sums, FormatSHA1Sums, FormatSHA256Sums, FormatDFXML}
}

// ErrUnknownFormat: Export was asked for a format it does not write.
var ErrUnknownFormat = errors.New("unknown export format")

// NameError: a file's name cannot be written in the chosen export format
// (a line break in a hashdeep known-file, a character XML 1.0 cannot
// carry); another format can carry it.
type NameError struct {
	Path string
	// Why says what in the name the format cannot hold, and what to use.
	Why string
}

func (e *NameError) Error() string { return "file name " + strconv.Quote(e.Path) + " " + e.Why }

// ErrLogDamaged reports that an export was refused because the custody log
// has failures: an export is a statement of what the log recorded, which
// a damaged log cannot support. Run VerifyCase for the details.
var ErrLogDamaged = errors.New("custody log has failures")

// Manifest is what the exports are made from: the case's identity and the
// last file.finalized record of every path, from an intact log. Nothing
// is re-hashed.
type Manifest struct {
	CaseID      string
	Examiner    string
	ToolVersion string
	SinkHost    string
	// Opened is the time of the first case.opened record, zero if none.
	Opened time.Time
	// HeadSeq and HeadHash identify the log state the manifest came from.
	HeadSeq  int64
	HeadHash string
	// Files are sorted by path (byte order).
	Files []custody.FileFinalized
}

// ReadManifest reads the custody log of the case in caseDir. It fails with
// ErrNotCase for a folder without a log and with ErrLogDamaged (wrapped,
// naming the first failure) when the chain or a file.finalized record is
// unusable.
func ReadManifest(caseDir string) (*Manifest, error) {
	if err := checkCase(caseDir); err != nil {
		return nil, err
	}
	c, err := readLogFile(LogPath(caseDir))
	if err != nil {
		return nil, err
	}
	files, _, bad := lastFinalized(c.records)
	for _, f := range append(c.findings, bad...) {
		if f.Severity == custody.Failure {
			return nil, fmt.Errorf("%s: %w: %s", LogPath(caseDir), ErrLogDamaged, f)
		}
	}
	m := &Manifest{HeadSeq: c.headSeq, HeadHash: c.headHash}
	for _, r := range c.records {
		if r.Type != custody.TypeCaseOpened {
			continue
		}
		var co custody.CaseOpened
		if err := r.Decode(&co); err != nil {
			return nil, err
		}
		m.CaseID, m.Examiner, m.ToolVersion, m.SinkHost, m.Opened = co.CaseID, co.Examiner, co.ToolVersion, co.SinkHost, r.Time
		break
	}
	for _, f := range files {
		m.Files = append(m.Files, f.FileFinalized)
	}
	return m, nil
}

// Export writes the case's finalized hashes in format (see Formats) to w.
// Nothing is written when it fails.
func Export(caseDir, format string, w io.Writer) error {
	m, err := ReadManifest(caseDir)
	if err != nil {
		return err
	}
	return m.Export(format, w)
}

// Export writes m in format to w. The output is rendered in memory first,
// so a file name the format cannot carry leaves w untouched.
func (m *Manifest) Export(format string, w io.Writer) error {
	var b bytes.Buffer
	var err error
	switch format {
	case FormatHashdeep:
		err = m.writeHashdeep(&b)
	case FormatMD5Sums:
		err = m.writeSums(&b, "md5")
	case FormatSHA1Sums:
		err = m.writeSums(&b, "sha1")
	case FormatSHA256Sums:
		err = m.writeSums(&b, "sha256")
	case FormatDFXML:
		err = m.writeDFXML(&b)
	default:
		return fmt.Errorf("%w %q (known: %s)", ErrUnknownFormat, format, strings.Join(Formats(), ", "))
	}
	if err != nil {
		return fmt.Errorf("export %s: %w", format, err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("export %s: %w", format, err)
	}
	return nil
}

// commentSafe makes text from the log safe for a one-line comment: control
// characters become spaces.
func commentSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
