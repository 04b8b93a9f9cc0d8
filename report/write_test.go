package report

import (
	"bytes"
	"encoding/json"
	"html"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/esxsink/esxsink/custody"
)

// hostileCase names a VM and a file with markup and table syntax, as VM
// names on a real host may.
func hostileCase(t *testing.T) *Report {
	c := acquisition(t)
	c.finalized("evil/<script>alert(1)</script>.vmx", 5, md5C, shaA)
	c.step(custody.TypeFileVerified, custody.Step{VM: `<img src=x onerror=alert(1)> | "q"`, VMID: 9, Source: "/vmfs/volumes/ds/evil/x.vmx",
		Dest: "evil/<script>alert(1)</script>.vmx", Size: 5, HostHashes: map[string]string{"md5": md5C}, SinkHashes: map[string]string{"md5": md5C}, AtRest: map[string]string{"md5": md5C}})
	return c.load()
}

func TestWriteHTMLSelfContainedAndEscaped(t *testing.T) {
	t.Parallel()
	r := hostileCase(t)
	r.Generator = "esxsink test"
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"<script", "<img", "<link", "@import", "url(", "http://", "https://"} {
		if strings.Contains(out, bad) {
			t.Errorf("HTML contains %q: not self-contained or not escaped", bad)
		}
	}
	if !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;.vmx") {
		t.Error("a file name with markup is not escaped")
	}
	// Local time is the recorded offset's, beside UTC.
	local := r.Case.Opened.In(time.FixedZone("", 9*3600)).Format("15:04:05") + " +09:00"
	text := html.UnescapeString(out)
	for _, want := range []string{"@page", "table-header-group", `id="verdict-table"`, "<script>alert(1)</script>.vmx", local,
		"C-7", "R. Roe", "SHA256:abc", "esx01.example", "build-22380479", md5B, md5Bbad, "MISMATCH", "esxsink-r1-vm4",
		"REMOVE", "ls '/vmfs/volumes/x y'", "exit 1", "Copied live", "Input/output error", "shell.log", "UTC+09:00"} {
		if !strings.Contains(text, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	// The verdict table holds one row per evidence file.
	table := out[strings.Index(out, `id="verdict-table"`):]
	table = table[:strings.Index(table, "</table>")]
	if n := strings.Count(table, "<tr class="); n != r.Summary.Files {
		t.Errorf("verdict table has %d rows, want %d", n, r.Summary.Files)
	}
}

func TestWriteMarkdown(t *testing.T) {
	t.Parallel()
	r := hostileCase(t)
	var b bytes.Buffer
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"# Forensic acquisition report: case C-7", "**RESULT: ATTENTION**", "## 4. Verdicts", md5A, md5Bbad, "**MISMATCH**",
		"**received**", "esxsink-r1-vm4", "## 8. Host artifacts", "`vmware -vl`", `web\|01`} {
		if !strings.Contains(out, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	// Every table row has as many cells as its header: no unescaped pipe.
	cells := regexp.MustCompile(`(?:^|[^\\])\|`)
	var header int
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "|") {
			header = 0
			continue
		}
		n := len(cells.FindAllString(line, -1))
		if header == 0 {
			header = n
		} else if n != header {
			t.Errorf("row has %d cell separators, header %d: %s", n, header, line)
		}
	}
}

func TestWriteJSONRoundTrip(t *testing.T) {
	t.Parallel()
	r := hostileCase(t)
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Summary, r.Summary) || back.Log.Head != r.Log.Head || len(back.Commands) != len(r.Commands) || len(back.VMs) != len(r.VMs) {
		t.Fatalf("JSON round trip lost data:\n%s", b.String())
	}
	var raw map[string]any
	json.Unmarshal(b.Bytes(), &raw)
	for _, k := range []string{"case", "summary", "hosts", "vms", "commands", "anomalies", "custody_log", "verifications", "snapshots", "host_artifacts"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
}
