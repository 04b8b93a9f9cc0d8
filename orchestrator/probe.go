package orchestrator

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/esxsink/esxsink/esxi"
)

// probedTools are the host commands an acquisition may use.
var probedTools = []string{"dd", "tee", "md5sum", "sha256sum", "mkfifo", "esxcfg-nas", "esxcli"}

// probeHost asks the host which tools it has before relying on any, and
// chooses the host-side hashes and the mount command from the answer. The
// answer is a custody note: it explains why a host hashed md5 only.
func (c *collector) probeHost(ctx context.Context) error {
	cmd, err := esxi.CmdProbeTools(probedTools...)
	if err != nil {
		return err
	}
	res, err := c.o.Runner.Run(ctx, cmd)
	if err != nil {
		return fmt.Errorf("ask %s which tools it has: %w", c.o.Host, err)
	}
	have, err := esxi.ParseProbeTools(string(res.Stdout))
	if err != nil {
		return fmt.Errorf("ask %s which tools it has: %w (stderr: %s)", c.o.Host, err, clip(strings.TrimSpace(string(res.Stderr))))
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
	c.record(TypeNote, StepRecord{Note: note})
	switch {
	case !have["pipefail"]:
		return fmt.Errorf("the shell on %s lacks set -o pipefail, so a failing dd inside dd | tee | md5sum would go unnoticed and collect cannot vouch for a copy there: use the manual procedure (esxsink serve, then dd and md5sum by hand, see README)", c.o.Host)
	case !have["dd"] || !have["tee"]:
		return fmt.Errorf("%s lacks dd or tee, which every copy uses (%s)", c.o.Host, note)
	}
	var hashes []esxi.HashAlg
	if have["md5sum"] {
		hashes = append(hashes, esxi.MD5)
	}
	if have["sha256sum"] && (len(hashes) == 0 || have["mkfifo"]) {
		hashes = append(hashes, esxi.SHA256)
	}
	if len(hashes) == 0 {
		return fmt.Errorf("%s has neither md5sum nor sha256sum: the host could not hash what it reads, and nothing could be verified on both sides", c.o.Host)
	}
	c.mu.Lock()
	c.hashes = hashes
	c.mu.Unlock()
	switch {
	case have["esxcfg-nas"]:
		c.nas = nasEsxcfg
	case have["esxcli"]:
		c.nas = nasEsxcli
	default:
		c.nas = nasEsxcfg // the mount fails with the host's own words
	}
	return nil
}
