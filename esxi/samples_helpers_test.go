package esxi

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Helpers that cut one command's output out of a sample (a blog post or a
// test file quoting a host) and check it.

// notParsed is the test of a sample this package deliberately does not
// parse; it checks that the sample is what the reason says (marker is in it).
func notParsed(marker, reason string) func(*testing.T, string) {
	return func(t *testing.T, body string) {
		if !strings.Contains(body, marker) {
			t.Errorf("sample lacks %q; is it still %s?", marker, reason)
		}
		t.Log("not parsed here:", reason)
	}
}

var promptRe = regexp.MustCompile(`^(~ #|\[root@|\[vi-admin@|\$ |# |>|/\S* # |` + "```" + `)`)

// outputs returns the output printed after each line containing cmd, up to
// the next prompt (or blank line when stopAtBlank), with prefix (the
// sample's markdown indentation) removed from each line.
func outputs(body, cmd, prefix string, stopAtBlank bool) []string {
	ls := strings.Split(body, "\n")
	var outs []string
	for i := 0; i < len(ls); i++ {
		// Prose quoting the command in backquotes is not a command line.
		if !strings.Contains(ls[i], cmd) || strings.Contains(ls[i], "`") {
			continue
		}
		var out []string
		for i++; i < len(ls); i++ {
			l := strings.TrimPrefix(ls[i], prefix)
			if promptRe.MatchString(l) || stopAtBlank && strings.TrimSpace(l) == "" {
				break
			}
			out = append(out, l)
		}
		i--
		outs = append(outs, strings.Join(out, "\n")+"\n")
	}
	return append(outs, "", "") // so [0] and [1] never panic; an empty output fails its test
}

// quoted returns the double-quoted strings of a sample that is source code.
func quoted(t *testing.T, body string) []string {
	ms := regexp.MustCompile(`= "([^"]*)"`).FindAllStringSubmatch(body, -1)
	if len(ms) == 0 {
		t.Fatal("no quoted strings in the sample")
	}
	var out []string
	for _, m := range ms {
		out = append(out, m[1])
	}
	return out
}

// html undoes the blog engine's escaping of quotes.
func html(s string) string { return strings.ReplaceAll(s, "&quot;", `"`) }

func checkNASAddSample(t *testing.T, body, prefix, label string) {
	t.Helper()
	out := outputs(body, "esxcfg-nas -a", prefix, true)[0]
	if err := CheckNASAdd(out, label); err != nil {
		t.Errorf("esxcfg-nas -a output: %v", err)
	}
	// Our command has the sample's argument order (-a -o HOST -s SHARE LABEL).
	for _, l := range strings.Split(body, "\n") {
		_, cmd, ok := strings.Cut(l, "esxcfg-nas -a ")
		if !ok {
			continue
		}
		f := append([]string{"esxcfg-nas", "-a"}, strings.Fields(cmd)...)
		toks, err := shTokens(okFn(t)(CmdNASAdd(f[3], f[5], f[6])))
		if err != nil || !slices.Equal(words(toks), f) {
			t.Errorf("built %q, sample ran %q", words(toks), f)
		}
		return
	}
	t.Error("no esxcfg-nas -a command in the sample")
}

func checkHostnameSample(t *testing.T, body string, want Hostname) {
	t.Helper()
	recs, err := ParseEsxcliText(outputs(body, "esxcli system hostname get", "", false)[0])
	if err != nil {
		t.Fatal(err)
	}
	if h, err := SystemHostname(recs); err != nil || h != want {
		t.Errorf("hostname %+v, %v; want %+v", h, err, want)
	}
}

func checkVersionSample(t *testing.T, body string, want HostVersion) {
	t.Helper()
	recs, err := ParseEsxcliText(outputs(body, "esxcli system version get", "", true)[0])
	if err != nil {
		t.Fatal(err)
	}
	if v, err := SystemVersion(recs); err != nil || v != want {
		t.Errorf("version %+v, %v; want %+v", v, err, want)
	}
}

func coreDevices(t *testing.T, out string) []CoreDevice {
	t.Helper()
	recs, err := ParseEsxcliText(out)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := CoreDevices(recs)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func vmProcesses(t *testing.T, out string) []VMProcess {
	t.Helper()
	recs, err := ParseEsxcliText(out)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := VMProcesses(recs)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// cutTable parses a filesystem table whose last row the excerpt cut short:
// whole, it must fail on that row; without it, it must parse.
func cutTable(t *testing.T, out string) []Filesystem {
	t.Helper()
	ls := strings.Split(strings.TrimRight(out, "\n"), "\n")
	_, err := ParseEsxcliText(out)
	if pe, ok := err.(*ParseError); !ok || pe.Line != len(ls) {
		t.Errorf("cut row: %v, want a ParseError on line %d", err, len(ls))
	}
	recs, err := ParseEsxcliText(strings.Join(ls[:len(ls)-1], "\n"))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Filesystems(recs)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func getAllVMs(t *testing.T, out string) *VMList {
	t.Helper()
	l, err := ParseGetAllVMs(out)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func snapshotTree(t *testing.T, out string) *SnapshotTree {
	t.Helper()
	tr, err := ParseSnapshotTree(out)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func checkPower(t *testing.T, out string, want PowerState) {
	t.Helper()
	if got, err := ParsePowerState(out); err != nil || got != want {
		t.Errorf("%q: %q, %v; want %q", out, got, err, want)
	}
}
