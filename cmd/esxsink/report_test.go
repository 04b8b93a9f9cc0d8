package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"html"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/esxsink/esxsink/internal/peer"
)

// reportScenario is a small lab: a running VM whose disk needs our
// snapshot and a powered-off VM with a bad sector, kilobytes to megabytes
// so that a collect takes about a second.
const reportScenario = `host:
  hostname: esx-report01
  domain: lab.example
  version: 8.0.2
  build: "22380479"
  update: "2"
  patch: "0"
  user: root
  password: "Report-Lab-1!"
  address: 127.0.0.1
datastores:
  - name: datastore1
    type: VMFS-6
vms:
  - id: 1
    name: Ubuntu
    guest_os: ubuntu64Guest
    power: "on"
    memory_mb: 16
    logs: 1
    disks:
      - {size: 2MiB, kind: thin}
  - id: 2
    name: Broken disk
    guest_os: debian11_64Guest
    power: "off"
    memory_mb: 16
    disks:
      - {size: 1MiB, zero_permille: 0}
faults:
  - kind: bad_sectors
    path: "/vmfs/volumes/datastore1/Broken disk/Broken disk-flat.vmdk"
    offset: 512KiB
    length: 4KiB
`

// collectLabCase runs `esxsink-lab` on reportScenario and `esxsink
// collect --all` from it into a new case, as the examiner would, and
// returns the case folder.
func collectLabCase(t *testing.T) string {
	t.Helper()
	work := t.TempDir()
	lab := startLabScenario(t, reportScenario)
	caseDir := filepath.Join(work, "case 2026-R-014")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append(lab.collectArgs(caseDir, "--all"), "--case-id", "2026-R-014", "--examiner", "Ann Examiner")
	cmd := exec.CommandContext(ctx, esxsinkBin, args...)
	cmd.Env = append(lab.env, "TZ=Asia/Seoul")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("esxsink collect: %v\n%s", err, out)
	}
	return caseDir
}

// evidenceMD5s hashes every evidence file independently of esxsink.
func evidenceMD5s(t *testing.T, caseDir string) map[string]string {
	t.Helper()
	ev := filepath.Join(caseDir, "evidence")
	out := map[string]string{}
	err := filepath.WalkDir(ev, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(ev, p)
		s := md5.Sum(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(s[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 4 {
		t.Fatalf("collect left only %d evidence files: %v", len(out), out)
	}
	return out
}

// chromium runs headless Chromium with a profile of its own and returns
// its stdout.
func chromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// verdictRows returns the rows of the verdict table in html, unescaped.
func verdictRows(t *testing.T, page string) []string {
	t.Helper()
	i := strings.Index(page, `id="verdict-table"`)
	if i < 0 {
		t.Fatalf("no verdict table in the page:\n%.3000s", page)
	}
	table := page[i:]
	table = table[:strings.Index(table, "</table>")]
	var rows []string
	for _, r := range strings.Split(table, "<tr")[1:] {
		rows = append(rows, html.UnescapeString(r))
	}
	return rows
}

// TestReportRendersInChromium: a lab case collected over real SSH and NFS
// and verified, reported, then rendered by headless Chromium to a PNG, a
// PDF and a DOM, which holds the verdict table with every collected file
// and the MD5 this test computed itself.
func TestReportRendersInChromium(t *testing.T) {
	browser := peer.Require(t, "chromium")
	caseDir := collectLabCase(t)
	logPath := filepath.Join(caseDir, "custody.jsonl")
	before, _ := os.ReadFile(logPath)
	if out, code := esx(t, "", "verify", "--no-record", caseDir); code != 0 || strings.Contains(out, "case.verified") {
		t.Fatalf("verify --no-record: exit %d\n%s", code, out)
	}
	if after, _ := os.ReadFile(logPath); !bytes.Equal(before, after) {
		t.Fatal("verify --no-record changed the custody log")
	}
	if out, code := esx(t, "", "verify", caseDir); code != 0 || !strings.Contains(out, "case.verified") {
		t.Fatalf("verify of the fresh case: exit %d\n%s", code, out)
	}
	outDir := filepath.Join(t.TempDir(), "report out")
	out, code := esx(t, "", "report", caseDir, "--out", outDir)
	if code != 0 || !strings.Contains(out, "report.html") || !strings.Contains(out, "verified") {
		t.Fatalf("esxsink report: exit %d\n%s", code, out)
	}
	page := filepath.Join(outDir, "report.html")
	url := "file://" + page
	png := filepath.Join(outDir, "report.png")
	pdf := filepath.Join(outDir, "report.pdf")
	chromium(t, browser, "--screenshot="+png, "--window-size=1280,2000", url)
	chromium(t, browser, "--no-pdf-header-footer", "--print-to-pdf="+pdf, url)
	dom := string(chromium(t, browser, "--dump-dom", url))

	pb, err := os.ReadFile(png)
	if err != nil || !bytes.HasPrefix(pb, []byte("\x89PNG\r\n\x1a\n")) || len(pb) < 20<<10 {
		t.Fatalf("screenshot %s: %d bytes, err %v: not a rendered PNG", png, len(pb), err)
	}
	db, err := os.ReadFile(pdf)
	if err != nil || !bytes.HasPrefix(db, []byte("%PDF-")) || !bytes.Contains(db, []byte("%%EOF")) {
		t.Fatalf("PDF %s: %d bytes, err %v: not a PDF", pdf, len(db), err)
	}
	// The report spans pages: A4 with the print stylesheet.
	if pages := len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(db, -1)); pages < 2 {
		t.Errorf("PDF has %d page(s), want the report over several", pages)
	} else {
		t.Logf("PDF: %d pages, %d bytes; PNG %d bytes", pages, len(db), len(pb))
	}

	rows := verdictRows(t, dom)
	sums := evidenceMD5s(t, caseDir)
	if len(rows) != len(sums)+1 { // + the header row
		t.Errorf("verdict table has %d rows, want a header and %d files", len(rows), len(sums))
	}
	for path, sum := range sums {
		// The first copy of a disk with bad sectors stays as received,
		// moved by the sink to superseded/<run>/; its sector-by-sector
		// re-read, under the host's name, is the verified one.
		want := ">verified<"
		if strings.HasPrefix(path, "superseded/") {
			want = ">superseded<"
		}
		found := false
		for _, r := range rows {
			if strings.Contains(r, ">"+path+"<") && strings.Contains(r, sum) && strings.Contains(r, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("the rendered verdict table has no row %s for %s with md5 %s", want, path, sum)
		}
	}
	// The scenario's bad sectors: 4 KiB at 512 KiB are sectors 1024-1031.
	for _, want := range []string{"RESULT: PASS", "2026-R-014", "Ann Examiner", "esx-report01.lab.example", "build-22380479", "+09:00",
		"vmfs/volumes/datastore1/Broken disk/Broken disk-flat.vmdk", "sectors 1024-1031", "Copied live", "esxsink-", "esxcfg-nas"} {
		if !strings.Contains(html.UnescapeString(dom), want) {
			t.Errorf("rendered report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("rendered DOM:\n%.6000s", dom)
	}
}

// TestReportFlagsChangedEvidence: one changed byte in a collected disk
// makes verify fail (exit 1), and the report built afterwards from the
// case folder names that file NOT VERIFIED, in HTML, Markdown and JSON,
// while the other files stay verified.
func TestReportFlagsChangedEvidence(t *testing.T) {
	t.Parallel()
	caseDir := collectLabCase(t)
	target := "datastore1/Ubuntu/Ubuntu-flat.vmdk"
	flip(t, filepath.Join(caseDir, "evidence", filepath.FromSlash(target)), 1<<20+3)
	if out, code := esx(t, "", "verify", caseDir); code != 1 || !strings.Contains(out, target) {
		t.Fatalf("verify after a changed byte: exit %d, want 1 naming %s\n%s", code, target, out)
	}
	out, code := esx(t, "", "report", caseDir)
	if code != 0 || !strings.Contains(out, "ATTENTION") || !strings.Contains(out, target) {
		t.Fatalf("esxsink report: exit %d\n%s", code, out)
	}
	var rep struct {
		Summary struct {
			OK          bool `json:"ok"`
			NotVerified int  `json:"not_verified"`
			Verified    int  `json:"verified"`
			Received    int  `json:"received"`
			Superseded  int  `json:"superseded"`
		} `json:"summary"`
		VMs []struct {
			Files []struct {
				Path    string `json:"path"`
				Kind    string `json:"kind"`
				Verdict string `json:"verdict"`
				Reason  string `json:"reason"`
			} `json:"files"`
		} `json:"vms"`
		Verifications []struct {
			OK bool `json:"ok"`
		} `json:"verifications"`
	}
	b, err := os.ReadFile(filepath.Join(caseDir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	verified, superseded := 0, 0
	for _, vm := range rep.VMs {
		for _, f := range vm.Files {
			switch {
			case f.Kind == "mount-check":
				// A check, not evidence: not counted.
			case f.Path == target && (f.Verdict != "NOT VERIFIED" || !strings.Contains(f.Reason, "MISMATCH")):
				t.Errorf("%s: verdict %q (%s), want NOT VERIFIED by the failed verify", f.Path, f.Verdict, f.Reason)
			case f.Verdict == "superseded" && strings.Contains(f.Reason, "earlier attempt"):
				superseded++
			case f.Path != target && f.Verdict != "verified":
				t.Errorf("%s: verdict %q (%s), want verified", f.Path, f.Verdict, f.Reason)
			case f.Verdict == "verified":
				verified++
			}
		}
	}
	if rep.Summary.OK || rep.Summary.NotVerified != 1 || rep.Summary.Verified != verified || rep.Summary.Superseded != superseded || rep.Summary.Received != 0 ||
		len(rep.Verifications) != 1 || rep.Verifications[0].OK {
		t.Errorf("report.json summary %+v, verifications %+v", rep.Summary, rep.Verifications)
	}
	page, _ := os.ReadFile(filepath.Join(caseDir, "report.html"))
	flagged := false
	for _, r := range verdictRows(t, string(page)) {
		if strings.Contains(r, ">"+target+"<") && strings.Contains(r, "NOT VERIFIED") {
			flagged = true
		}
	}
	if !flagged || !strings.Contains(string(page), "RESULT: ATTENTION") {
		t.Errorf("report.html does not flag %s in the verdict table", target)
	}
	md, _ := os.ReadFile(filepath.Join(caseDir, "report.md"))
	if !regexp.MustCompile(`\| ` + regexp.QuoteMeta(target) + ` \|.*\*\*NOT VERIFIED\*\*`).Match(md) {
		t.Errorf("report.md does not flag %s", target)
	}
}

// TestReportUsage: a folder that is not a case, or bad arguments, exit 2
// and say what is wrong.
func TestReportUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"report", dir}, "not a case"},
		{[]string{"report"}, "usage"},
		{[]string{"report", dir, "--out"}, "--out needs a folder"},
		{[]string{"report", dir, "--bogus"}, "unknown flag"},
	} {
		out, code := esx(t, "", c.args...)
		if code != 2 || !strings.Contains(out, c.want) {
			t.Errorf("esxsink %s: exit %d, want 2 with %q\n%s", strings.Join(c.args, " "), code, c.want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err == nil {
		t.Error("a report was written into a folder that is not a case")
	}
}

// TestReportFullLabNamesWhatWasNotCollected: collect one VM of full.yaml;
// the report rendered by headless Chromium gives the headline counts and
// lists, with the option that would collect each, the other VMs, the
// unregistered VM, the LUN behind the collected VM's RDM and the USB
// stick the host holds.
func TestReportFullLabNamesWhatWasNotCollected(t *testing.T) {
	browser := peer.Require(t, "chromium")
	scenario, err := os.ReadFile(filepath.Join("..", "..", "examples", "lab", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lab := startLabScenario(t, string(scenario))
	caseDir := filepath.Join(t.TempDir(), "case")
	out, errOut, code := lab.run(t, lab.collectArgs(caseDir, "--vm", "web01")...)
	if code != 0 {
		t.Fatalf("collect --vm web01: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"not collected  ", "Orphan-2019", "(--unregistered)", "(--rdm)", "(--usb "} {
		if !strings.Contains(out, want) {
			t.Errorf("the closing statement lacks %q:\n%s", want, out)
		}
	}
	if out, code := esx(t, "", "verify", caseDir); code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	if out, code := esx(t, "", "report", caseDir); code != 0 || !strings.Contains(out, "RESULT: PASS") {
		t.Fatalf("report: exit %d\n%s", code, out)
	}
	dom := html.UnescapeString(string(chromium(t, browser, "--dump-dom", "file://"+filepath.Join(caseDir, "report.html"))))
	i := strings.Index(dom, `id="not-collected"`)
	if i < 0 {
		t.Fatalf("the rendered report has no not-collected list")
	}
	list := dom[i:]
	list = list[:strings.Index(list, "</table>")]
	for _, want := range []string{"unregistered VM", "Orphan-2019", "--unregistered", "RDM LUN", "/vmfs/devices/disks/vml.", "--rdm",
		"USB device", "--usb", "Mail [legacy]", "--vm 11", "db-test", "--vm 14"} {
		if !strings.Contains(list, want) {
			t.Errorf("the not-collected list lacks %q:\n%s", want, list)
		}
	}
	v := regexp.MustCompile(`id="verdict">([^<]*)<`).FindStringSubmatch(dom)
	if v == nil || !strings.HasPrefix(v[1], "PASS: ") || !strings.Contains(v[1], "verified") || !strings.Contains(v[1], "NOT COLLECTED") {
		t.Errorf("headline counts = %q", v)
	}
}
