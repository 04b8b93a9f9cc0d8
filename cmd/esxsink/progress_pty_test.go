package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/internal/peer"
)

// TestCollectCLIProgressParallelOnATerminal collects every VM with
// --parallel 2 on a pseudo-terminal, more files than slots, and replays
// what the terminal was sent frame by frame: no frame shows more bars
// than files can be copying at once (a file waiting for a slot has none),
// a file that has ended never shows a bar again, the total never goes
// back, and when the run is over every file is one line and no bar is
// left.
func TestCollectCLIProgressParallelOnATerminal(t *testing.T) {
	script := peer.Require(t, "script")
	lab := startLab(t, "256MiB")
	caseDir := filepath.Join(t.TempDir(), "case")
	var quoted []string
	for _, a := range append([]string{esxsinkBin}, lab.collectArgs(caseDir, "--all", "--parallel", "2")...) {
		quoted = append(quoted, esxi.Quote(a))
	}
	cmd := exec.Command(script, "-qfec", "stty cols 160 rows 50; exec "+strings.Join(quoted, " "), "/dev/null")
	cmd.Env = append(lab.env, "TERM=xterm", "COLUMNS=160")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("collect on a terminal: %v\n%s", err, out)
	}
	frames, screen := replayTerminal(out)
	bar := regexp.MustCompile(`^\[(\d+)/(\d+)\] .* / .*ETA`)
	done := regexp.MustCompile(`^\[(\d+)/(\d+)\] (\S.*?)  \d+(?:\.\d)? [KMGT]?i?B  \S+  (.+)$`)
	total := regexp.MustCompile(`^total +(\d+(?:\.\d)? [KMGT]?i?B) / `)
	ended := map[string]bool{}
	var bars int
	var lastTotal int64
	for i, f := range frames {
		var running []string
		for _, l := range f {
			if m := done.FindStringSubmatch(l); m != nil {
				ended[m[1]] = true
			}
		}
		for _, l := range f {
			if m := bar.FindStringSubmatch(l); m != nil {
				running = append(running, l)
				if ended[m[1]] {
					t.Errorf("frame %d: file %s/%s has ended but still has a bar: %q", i, m[1], m[2], l)
				}
			}
			if m := total.FindStringSubmatch(l); m != nil {
				n := parseHuman(t, m[1])
				if n < lastTotal {
					t.Errorf("frame %d: the total went back from %d to %d bytes: %q", i, lastTotal, n, l)
				}
				lastTotal = n
			}
		}
		if len(running) > 2 {
			t.Errorf("frame %d shows %d bars with --parallel 2:\n%s", i, len(running), strings.Join(running, "\n"))
		}
		bars += len(running)
	}
	if bars == 0 {
		t.Errorf("no frame showed a file's bar: nothing was checked\n%s", strings.Join(screen, "\n"))
	}
	// What stays on the terminal: one line per file, each once, and the
	// total's last line; no bar.
	var files, planned int
	seen := map[string]int{}
	for _, l := range screen {
		if bar.MatchString(l) {
			t.Errorf("a bar is left on the terminal: %q", l)
		}
		if m := done.FindStringSubmatch(l); m != nil {
			seen[m[1]]++
			files++
			planned, _ = strconv.Atoi(m[2])
			if m[4] != "verified" {
				t.Errorf("file line %q: want verified", l)
			}
		}
	}
	if planned == 0 || files != planned || len(seen) != planned {
		t.Errorf("%d file lines for %d distinct of %d planned files:\n%s", files, len(seen), planned, strings.Join(screen, "\n"))
	}
	if !slicesContainsPrefix(screen, "total: ") {
		t.Errorf("no closing total line:\n%s", strings.Join(screen, "\n"))
	}
	if bytes.Contains(out, []byte(" b/s")) {
		t.Errorf("a rate in other units than the counters (b/s):\n%s", out)
	}
}

func slicesContainsPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// parseHuman reads humanBytes' "1.5 MiB" back, to the precision shown.
func parseHuman(t *testing.T, s string) int64 {
	t.Helper()
	num, unit, _ := strings.Cut(s, " ")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		t.Fatalf("size %q: %v", s, err)
	}
	mult := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
	return int64(v * mult)
}

// replayTerminal plays what a progress display sent to a terminal: lines,
// "cursor up N" (ESC[NA) and "clear to the end of the screen" (ESC[J),
// which is how mpb redraws. It returns the screen as it was before each
// redraw cleared it (a frame: what the examiner saw), and as it was left.
func replayTerminal(out []byte) (frames [][]string, screen []string) {
	row := 0
	line := func() *string {
		for len(screen) <= row {
			screen = append(screen, "")
		}
		return &screen[row]
	}
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case c == 0x1b && i+1 < len(out) && out[i+1] == '[':
			j := i + 2
			for j < len(out) && (out[j] >= '0' && out[j] <= '9' || out[j] == ';' || out[j] == '?') {
				j++
			}
			if j >= len(out) {
				return frames, screen
			}
			n, _ := strconv.Atoi(string(out[i+2 : j]))
			switch out[j] {
			case 'A':
				row = max(0, row-max(n, 1))
			case 'J':
				frames = append(frames, append([]string(nil), screen...))
				screen = screen[:min(row, len(screen))]
			case 'K':
				*line() = ""
			}
			i = j
		case c == '\r':
		case c == '\n':
			line()
			row++
		default:
			*line() += string(out[i : i+1])
		}
	}
	frames = append(frames, append([]string(nil), screen...))
	// A finished bar's line keeps the blanks of the columns it no longer
	// fills; they are not part of what the examiner reads.
	for _, f := range append(frames, screen) {
		for i := range f {
			f[i] = strings.TrimRight(f[i], " ")
		}
	}
	return frames, screen
}
