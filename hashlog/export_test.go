package hashlog

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/internal/peer"
)

func exportTo(t *testing.T, caseDir, format, name string) string {
	t.Helper()
	var b bytes.Buffer
	if err := Export(caseDir, format, &b); err != nil {
		t.Fatalf("Export %s: %v", format, err)
	}
	p := filepath.Join(caseDir, name)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runIn runs a peer in dir and returns its combined output and exit code.
func runIn(t *testing.T, dir, prog string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("%s: %v", prog, err)
	}
	return string(out), 0
}

func flipByte(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x20
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHashdeepAuditOfExport(t *testing.T) {
	t.Parallel()
	hashdeep := peer.Require(t, "hashdeep")
	dir := makeCase(t, standardFiles())
	known := exportTo(t, dir, FormatHashdeep, "known.txt")
	ev := EvidenceDir(dir)

	text, _ := os.ReadFile(known)
	if !strings.HasPrefix(string(text), "%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n") {
		t.Fatalf("header:\n%s", text)
	}

	// The data lines must be exactly what hashdeep -l writes for ".".
	own, code := runIn(t, ev, hashdeep, "-l", "-r", "-j0", "-c", "md5,sha256", ".")
	if code != 0 {
		t.Fatalf("hashdeep -l -r .: rc %d\n%s", code, own)
	}
	if got, want := dataLines(string(text)), dataLines(own); !slices.Equal(got, want) {
		t.Fatalf("export lines differ from hashdeep's own:\n got %q\nwant %q", got, want)
	}

	out, code := runIn(t, ev, hashdeep, "-l", "-r", "-a", "-vv", "-k", known, ".")
	if code != 0 || !strings.Contains(out, "Audit passed") {
		t.Fatalf("audit of intact case: rc %d\n%s", code, out)
	}

	flipByte(t, filepath.Join(ev, "sub dir", "disk one-flat.vmdk"), 5000)
	out, code = runIn(t, ev, hashdeep, "-l", "-r", "-a", "-vv", "-k", known, ".")
	if code == 0 || !strings.Contains(out, "Audit failed") || !strings.Contains(out, "disk one-flat.vmdk: No match") {
		t.Fatalf("audit after a changed byte: rc %d\n%s", code, out)
	}
}

// dataLines returns the non-header, non-comment lines, sorted.
func dataLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" && !strings.HasPrefix(l, "%%%%") && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// oddFiles have names that need coreutils' escaping.
func oddFiles() []testFile {
	return []testFile{
		{"a.txt", []byte("hello world\n")},
		{"sub dir/disk one.vmdk", randomBytes(3*testPieceSize, 3)},
		{`back\slash.txt`, []byte("backslash\n")},
		{"new\nline.txt", []byte("newline\n")},
		{" leading space and *star", []byte("star\n")},
	}
}

func TestSumsExportsCheckWithCoreutils(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("file names with backslash and newline")
	}
	dir := makeCase(t, oddFiles(), "md5", "sha1", "sha256")
	ev := EvidenceDir(dir)
	for _, c := range []struct{ format, prog string }{
		{FormatMD5Sums, "md5sum"},
		{FormatSHA1Sums, "sha1sum"},
		{FormatSHA256Sums, "sha256sum"},
	} {
		prog := peer.Require(t, c.prog)
		list := exportTo(t, dir, c.format, c.format+".txt")
		out, code := runIn(t, ev, prog, "--strict", "-c", list)
		if code != 0 || strings.Count(out, ": OK") != len(oddFiles()) {
			t.Fatalf("%s -c on intact case: rc %d\n%s", c.prog, code, out)
		}
	}
	text, _ := os.ReadFile(filepath.Join(dir, "md5sums.txt"))
	if !strings.Contains(string(text), `  back\\slash.txt`) || !strings.Contains(string(text), `  new\nline.txt`) {
		t.Fatalf("names not escaped the coreutils way:\n%s", text)
	}

	flipByte(t, filepath.Join(ev, "new\nline.txt"), 0)
	md5sum := peer.Require(t, "md5sum")
	out, code := runIn(t, ev, md5sum, "-c", filepath.Join(dir, "md5sums.txt"))
	if code == 0 || !strings.Contains(out, "FAILED") {
		t.Fatalf("md5sum -c after a change: rc %d\n%s", code, out)
	}
}

func TestSumsExportNeedsTheAlgorithm(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, standardFiles()[:1]) // md5 and sha256 only
	var b bytes.Buffer
	if err := Export(dir, FormatSHA1Sums, &b); err == nil || b.Len() != 0 {
		t.Fatalf("sha1sums without sha1: err %v, wrote %d bytes", err, b.Len())
	}
}

func TestHashdeepExportRefusesLineBreakNames(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("file names with newline")
	}
	dir := makeCase(t, oddFiles())
	var b bytes.Buffer
	err := Export(dir, FormatHashdeep, &b)
	var ne *NameError
	if !errors.As(err, &ne) || ne.Path != "new\nline.txt" || b.Len() != 0 {
		t.Fatalf("err %v, wrote %d bytes; want a clear refusal naming the file", err, b.Len())
	}
}

// DFXML as decoded by encoding/xml; names carry the DFXML namespace.
type dfxmlDoc struct {
	XMLName     xml.Name `xml:"http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML dfxml"`
	Version     string   `xml:"version,attr"`
	Type        string   `xml:"metadata>type"`
	Program     string   `xml:"creator>program"`
	Host        string   `xml:"creator>execution_environment>host"`
	Fileobjects []struct {
		Filename string `xml:"filename"`
		Filesize int64  `xml:"filesize"`
		Runs     []struct {
			Offset int64      `xml:"file_offset,attr"`
			Len    int64      `xml:"len,attr"`
			Hashes []xmlHashd `xml:"hashdigest"`
		} `xml:"byte_runs>byte_run"`
		Hashes []xmlHashd `xml:"hashdigest"`
	} `xml:"fileobject"`
}

type xmlHashd struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

func TestDFXMLListsEveryFileWithItsHashes(t *testing.T) {
	t.Parallel()
	files := append(standardFiles(), testFile{"odd <&'\"> name.txt", []byte("x")})
	dir := makeCase(t, files)
	var b bytes.Buffer
	if err := Export(dir, FormatDFXML, &b); err != nil {
		t.Fatal(err)
	}
	// Well-formed: the tokenizer reads it to the end.
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	for {
		if _, err := dec.Token(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("not well-formed XML: %v\n%s", err, b.String())
			}
			break
		}
	}
	var doc dfxmlDoc
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != dfxmlVersion || doc.Type != "Hash List" || doc.Program != "esxsink" || doc.Host != "ws1" {
		t.Fatalf("document header: %+v", doc)
	}
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Fileobjects) != len(files) || len(m.Files) != len(files) {
		t.Fatalf("%d fileobjects, %d records, want %d", len(doc.Fileobjects), len(m.Files), len(files))
	}
	for i, fo := range doc.Fileobjects {
		want := m.Files[i]
		if fo.Filename != want.Path || fo.Filesize != want.Size {
			t.Fatalf("fileobject %d: %s %d, want %s %d", i, fo.Filename, fo.Filesize, want.Path, want.Size)
		}
		got := map[string]string{}
		for _, h := range fo.Hashes {
			got[h.Type] = h.Value
		}
		if len(got) != 2 || got["md5"] != want.Hashes["md5"] || got["sha256"] != want.Hashes["sha256"] {
			t.Fatalf("%s: hashes %v, want %v", want.Path, got, want.Hashes)
		}
		if len(fo.Runs) != len(want.Pieces) {
			t.Fatalf("%s: %d byte_runs, want %d pieces", want.Path, len(fo.Runs), len(want.Pieces))
		}
		var total int64
		for j, r := range fo.Runs {
			if r.Offset != total || len(r.Hashes) != 1 || r.Hashes[0].Type != "sha256" || r.Hashes[0].Value != want.Pieces[j] {
				t.Fatalf("%s run %d: %+v", want.Path, j, r)
			}
			total += r.Len
		}
		if len(fo.Runs) > 0 && total != want.Size {
			t.Fatalf("%s: byte_runs cover %d bytes, file has %d", want.Path, total, want.Size)
		}
	}
}

func TestExportRefusesDamagedLog(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, standardFiles())
	lines := readLines(t, dir)
	lines[2], lines[3] = lines[3], lines[2]
	writeLines(t, dir, lines)
	for _, f := range Formats() {
		var b bytes.Buffer
		if err := Export(dir, f, &b); !errors.Is(err, ErrLogDamaged) || b.Len() != 0 {
			t.Fatalf("Export %s of a damaged log: %v (%d bytes)", f, err, b.Len())
		}
	}
}

func TestExportUnknownFormat(t *testing.T) {
	t.Parallel()
	dir := makeCase(t, nil)
	// The message lists the formats there are, for the examiner to choose.
	if err := Export(dir, "csv", &bytes.Buffer{}); !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), "hashdeep") {
		t.Fatalf("unknown format: %v", err)
	}
}
