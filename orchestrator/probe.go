package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/esxi"
)

// probedTools are the host commands an acquisition may use.
var probedTools = []string{"dd", "tee", "md5sum", "sha256sum", "mkfifo", "esxcfg-nas", "esxcli"}

// errNoToolAnswer marks a tool probe that ran but whose output was not
// an answer.
var errNoToolAnswer = errors.New("the tool probe gave no answer")

// askTools asks host which of tools it has (esxi.CmdProbeTools) and
// whether its shell knows pipefail. An answer that does not parse is
// errNoToolAnswer; any other error means the command did not run.
func askTools(ctx context.Context, r Commander, host string, tools []string) (map[string]bool, error) {
	cmd, err := esxi.CmdProbeTools(tools...)
	if err != nil {
		return nil, err
	}
	res, err := r.Run(ctx, cmd)
	if err != nil {
		return nil, fmt.Errorf("ask %s which tools it has: %w", host, err)
	}
	have, err := esxi.ParseProbeTools(string(res.Stdout))
	if err != nil {
		return nil, fmt.Errorf("ask %s which tools it has: %w: %w (stderr: %s)", host, errNoToolAnswer, err, clip(strings.TrimSpace(string(res.Stderr))))
	}
	return have, nil
}

// probeHost asks the host which tools it has before relying on any, and
// chooses the host-side hashes and the mount command from the answer. The
// answer is a custody note: it explains why a host hashed md5 only.
func (c *collector) probeHost(ctx context.Context) error {
	have, err := askTools(ctx, c.o.Runner, c.o.Host, probedTools)
	if err != nil {
		return err
	}
	var yes, no []string
	for t, ok := range have {
		if ok {
			yes = append(yes, t)
		} else {
			no = append(no, t)
		}
	}
	sort.Strings(yes)
	sort.Strings(no)
	note := "host tools: has " + strings.Join(yes, ", ")
	if len(no) > 0 {
		note += "; lacks " + strings.Join(no, ", ")
	}
	c.record(custody.TypeAcquisitionNote, custody.Step{Note: note})
	switch {
	case !have["pipefail"]:
		return fmt.Errorf("the shell on %s lacks set -o pipefail, so a failing dd inside dd | tee | md5sum would go unnoticed and collect cannot vouch for a copy there: use the manual procedure (esxsink serve, then dd and md5sum by hand, see README)", c.o.Host)
	case !have["dd"] || !have["tee"]:
		return fmt.Errorf("%s lacks dd or tee, which every copy uses (%s)", c.o.Host, note)
	}
	// A second hash in the same pass reads a FIFO.
	var hashes []esxi.HashAlg
	for _, a := range c.o.HostHashes {
		if have[a.Tool()] && (len(hashes) == 0 || have["mkfifo"]) {
			hashes = append(hashes, a)
		}
	}
	if len(hashes) == 0 {
		return fmt.Errorf("%s has neither md5sum nor sha256sum: the host could not hash what it reads, and nothing could be verified on both sides", c.o.Host)
	}
	c.mu.Lock()
	c.hashes = hashes
	c.mu.Unlock()
	switch {
	case have["esxcfg-nas"]:
		c.nas = esxi.NASEsxcfg
	case have["esxcli"]:
		c.nas = esxi.NASEsxcli
	default:
		c.nas = esxi.NASEsxcfg // the mount fails with the host's own words
	}
	return nil
}
