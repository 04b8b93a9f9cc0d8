package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// examples are shown at the end of each command's --help: what an
// examiner types, in the order of a case.
var examples = map[string][]string{
	"serve": {
		"sudo esxsink serve --case /cases/2026-017 --case-id 2026-017 --examiner \"A. Analyst\" --allow 10.0.0.21",
	},
	"status": {"esxsink status /cases/2026-017", "esxsink status --watch /cases/2026-017"},
	"verify": {"esxsink verify /cases/2026-017", "esxsink verify --no-record /mnt/readonly-copy/2026-017"},
	"export": {
		"esxsink export --format sums /cases/2026-017      # MD5SUMS and SHA256SUMS for md5sum -c",
		"esxsink export --format hashdeep /cases/2026-017  # then: cd evidence && hashdeep -l -r -a -k ../hashdeep.txt .",
	},
	"vmdk": {
		"esxsink vmdk info /cases/2026-017/evidence/datastore1/web/web-000001.vmdk",
		"esxsink vmdk convert /cases/2026-017/evidence/datastore1/web/web-000001.vmdk web.raw",
	},
	"inventory": {
		"esxsink inventory --host 10.0.0.21 --known-hosts ~/.ssh/known_hosts",
		"esxsink inventory --vcenter vcsa.example.org --vcenter-user administrator@vsphere.local --vcenter-thumbprint AB:CD:...:EF",
		"esxsink inventory --vcenter vcsa.example.org --vcenter-user administrator@vsphere.local --vcenter-ca vmca-root.pem --json",
	},
	"collect": {
		"esxsink collect --host 10.0.0.21 --host-key SHA256:... --case /cases/2026-017 --vm web01 --dry-run",
		"sudo esxsink collect --host 10.0.0.21 --host-key SHA256:... --case /cases/2026-017 --case-id 2026-017 --examiner \"A. Analyst\" --vm web01 --vm 12",
		"sudo esxsink collect ... --resume   # after an interrupted run: what verified is kept, the rest copied",
		"sudo esxsink collect --vcenter vcsa01.corp --vcenter-thumbprint AB:CD:... --vcenter-user administrator@vsphere.local --enable-ssh --cluster Prod --known-hosts ~/.ssh/known_hosts --accept-new-host-keys --case /cases/2026-018 --case-id 2026-018 --examiner \"A. Analyst\" --parallel-hosts 2",
	},
	"triage": {
		"sudo esxsink triage --host 10.0.0.21 --host-key SHA256:... --case /cases/2026-017 --case-id 2026-017 --examiner \"A. Analyst\"",
		"esxsink triage --vcenter vcsa01.corp --vcenter-thumbprint AB:CD:... --vcenter-user administrator@vsphere.local --cluster Prod --since 2026-11-01 --case /cases/2026-018 --case-id 2026-018 --examiner \"A. Analyst\"",
	},
	"cleanup": {
		"esxsink cleanup --host 10.0.0.21 --host-key SHA256:... --dry-run",
		"esxsink cleanup --host 10.0.0.21 --host-key SHA256:... --case /cases/2026-017 --examiner \"A. Analyst\"",
		"esxsink cleanup --vcenter vcsa01.corp --vcenter-thumbprint AB:CD:... --vcenter-user administrator@vsphere.local --case /cases/2026-018 --examiner \"A. Analyst\"",
	},
	"report":  {"esxsink report /cases/2026-017", "esxsink report /cases/2026-017 --out /tmp/report-2026-017"},
	"version": {"esxsink version"},
}

// withHelp adds each command's examples to its description and marks
// its required flags, so that every --help says what is needed and shows
// it used.
func withHelp(cmds []*cli.Command) []*cli.Command {
	for _, c := range cmds {
		if ex := examples[c.Name]; len(ex) > 0 {
			c.Description = strings.TrimRight(c.Description, "\n") + "\n\nExamples:\n   " + strings.Join(ex, "\n   ")
			c.Description = strings.TrimLeft(c.Description, "\n")
		}
		markRequired(c.Flags)
	}
	return cmds
}

func markRequired(flags []cli.Flag) {
	for _, f := range flags {
		if sf, ok := f.(*cli.StringFlag); ok && sf.Required && !strings.HasPrefix(sf.Usage, "(required)") {
			sf.Usage = "(required) " + sf.Usage
		}
	}
}
