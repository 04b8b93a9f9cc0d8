package esxsim

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esxsink/esxsink/internal/peer"
)

// TestGrepAgainstBusybox runs the same grep command lines in the
// simulator and in the real busybox, on the same files, and compares
// output and exit status: context lines (-A, -B, -C) with their "--"
// separators and "-" prefixes, -m, -L, -f. On a usage error only the
// first line of stderr is compared: the simulator prints the short usage
// where busybox prints its whole help.
func TestGrepAgainstBusybox(t *testing.T) {
	t.Parallel()
	bb := peer.Require(t, "busybox")
	th := startHost(t, loadScenario(t, "basic.yaml"), nil)
	dir := t.TempDir()
	files := map[string]string{
		"in.txt":   "a1\nb2\nmatch3\nc4\nd5\ne6\nmatch7\nmatch8\nf9\ng10\nh11\nmatch12\n",
		"in2.txt":  "x\nmatch\ny\n",
		"in3.txt":  "match\nx\n",
		"pats.txt": "c4\nh1\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, errOut, code := th.Exec(context.Background(), "printf '%s' "+shQuote(text)+" > /tmp/"+name); code != 0 {
			t.Fatalf("write /tmp/%s in the simulator: %s", name, errOut)
		}
	}
	for _, args := range []string{
		"-A 1 match in.txt",
		"-A1 match in.txt",
		"-nA1 match in.txt",
		"-B 2 match in.txt",
		"-C 1 match in.txt",
		"-C1 -n match in.txt in2.txt",
		"-A 1 match in2.txt in3.txt",
		"-A 1 -n -h match in.txt in2.txt",
		"-A 1 -H match in2.txt",
		"-C 2 -A 0 match in.txt",
		"-A 0 -C 2 match in.txt",
		"-A 0 match in.txt",
		"-B 1 -A 0 match in.txt",
		"-A 1 -v match in.txt",
		"-A 1 -c match in.txt",
		"-A 1 -o match in.txt",
		"-A 1 -l match in.txt in2.txt",
		"-A 1 -q match in.txt",
		"-m 2 -A 1 match in.txt",
		"-m 1 match in.txt in2.txt",
		"-m 0 match in.txt",
		"-c -m 2 match in.txt",
		"-A 2 -m 1 -v match in.txt",
		"-L match in.txt in2.txt",
		"-L x in.txt in2.txt",
		"-L match in.txt nope.txt",
		"-f pats.txt -A 1 in.txt",
		"-A x match in.txt",
		"-A -1 match in.txt",
		"-A 1x match in.txt",
		"match -A",
	} {
		cmd := exec.Command(bb, append([]string{"grep"}, strings.Fields(args)...)...)
		cmd.Dir = dir
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		code := 0
		if err := cmd.Run(); err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatal(err)
			}
			code = ee.ExitCode()
		}
		simOut, simErr, simCode := th.Exec(context.Background(), "cd /tmp && grep "+args)
		if simOut != out.String() || simCode != code {
			t.Errorf("grep %s\nbusybox (exit %d):\n%s\nesxsim (exit %d):\n%s%s", args, code, out.String(), simCode, simOut, simErr)
		}
		first := func(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }
		if first(simErr) != first(errb.String()) {
			t.Errorf("grep %s: stderr\nbusybox: %q\nesxsim:  %q", args, errb.String(), simErr)
		}
	}
}
