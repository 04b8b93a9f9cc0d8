package esxi

import (
	"regexp"
	"strings"
)

// toolName is what [CmdProbeTools] accepts: plain command names only, so
// the probe line needs no quoting and its output no unquoting.
var toolName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// CmdProbeTools asks the host which of tools it has and whether its shell
// knows set -o pipefail, one line each: "have NAME" or "lack NAME", and
// "have pipefail" or "lack pipefail" (parse with [ParseProbeTools]). It runs
// nothing but the shell's own command -v and set, so it changes nothing.
func CmdProbeTools(tools ...string) (string, error) {
	if len(tools) == 0 {
		return "", argErr("probe", "tools", "", "are empty")
	}
	for _, t := range tools {
		if !toolName.MatchString(t) {
			return "", argErr("probe", "tool", t, "is not a plain command name")
		}
	}
	return "for c in " + strings.Join(tools, " ") +
		`; do if command -v $c >/dev/null 2>&1; then echo "have $c"; else echo "lack $c"; fi; done; ` +
		`if (set -o pipefail) 2>/dev/null; then echo "have pipefail"; else echo "lack pipefail"; fi`, nil
}

// ParseProbeTools reads [CmdProbeTools]'s output into tool → present
// ("pipefail" included). Every line must be a have/lack line.
func ParseProbeTools(out string) (map[string]bool, error) {
	const src = "tool probe"
	have := map[string]bool{}
	for i, l := range lines(out) {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		verb, name, ok := strings.Cut(l, " ")
		if !ok || (verb != "have" && verb != "lack") || !toolName.MatchString(name) {
			return nil, parseErr(src, i+1, "unexpected line %q", clip(l))
		}
		have[name] = verb == "have"
	}
	if _, ok := have["pipefail"]; !ok {
		return nil, parseErr(src, 0, "no pipefail line: the probe did not finish")
	}
	return have, nil
}

// CmdWriteText writes text and a newline to path on the host with the
// shell's printf (a builtin: no tool needed), replacing what is there.
// The orchestrator uses it to prove a fresh mount is writable.
func CmdWriteText(path, text string) (string, error) {
	q, err := quotePath("write", "file", path)
	if err != nil {
		return "", err
	}
	if err := checkText("write", "text", text); err != nil {
		return "", err
	}
	return "printf '%s\\n' " + Quote(text) + " > " + q, nil
}
