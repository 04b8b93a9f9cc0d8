package esxi

import (
	"regexp"
	"strings"
)

// DatastorePath is a vSphere datastore path, "[datastore1] vm/vm.vmx".
type DatastorePath struct {
	Datastore string
	Path      string // relative to the datastore root; may be ""
}

// ParseDatastorePath splits "[DATASTORE] PATH".
func ParseDatastorePath(s string) (DatastorePath, error) {
	const src = "datastore path"
	if !strings.HasPrefix(s, "[") {
		return DatastorePath{}, parseErr(src, 0, "%q does not start with [datastore]", clip(s))
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return DatastorePath{}, parseErr(src, 0, "%q has no closing ]", clip(s))
	}
	ds := s[1:end]
	if ds == "" || strings.ContainsAny(ds, "/\x00") {
		return DatastorePath{}, parseErr(src, 0, "datastore name %q is empty or contains '/'", clip(ds))
	}
	return DatastorePath{Datastore: ds, Path: strings.TrimPrefix(s[end+1:], " ")}, nil
}

// HostPath is the path in the host's shell: /vmfs/volumes/DATASTORE/PATH.
// (/vmfs/volumes/LABEL is a link to the volume's UUID folder.)
func (p DatastorePath) HostPath() string {
	if p.Path == "" {
		return "/vmfs/volumes/" + p.Datastore
	}
	return "/vmfs/volumes/" + p.Datastore + "/" + p.Path
}

// String is the path as vSphere writes it: "[DATASTORE] PATH".
func (p DatastorePath) String() string { return "[" + p.Datastore + "] " + p.Path }

// ConfigFiles are the locations vim-cmd vmsvc/get.config reports in the
// VM's vim.vm.FileInfo, and its name.
type ConfigFiles struct {
	Name              string // top-level name = "..."; best effort
	VMPathName        string // "[datastore1] vm/vm.vmx"
	SnapshotDirectory string
	SuspendDirectory  string
	LogDirectory      string
}

var configField = regexp.MustCompile(`^(\s*)(name|vmPathName|snapshotDirectory|suspendDirectory|logDirectory) = "(.*)",?$`)

// ParseConfigFiles extracts the file locations from vim-cmd
// vmsvc/get.config, a vmodl dump ("   files = (vim.vm.FileInfo) {" ...).
// Only these fields are read; the dump's escaping rules are not documented,
// so a value is taken between the first and the last double quote on its
// line. vmPathName is required.
func ParseConfigFiles(out string) (ConfigFiles, error) {
	var c ConfigFiles
	if err := Classify(out); err != nil {
		return c, err
	}
	for _, l := range lines(out) {
		m := configField.FindStringSubmatch(strings.TrimRight(l, " \t"))
		if m == nil {
			continue
		}
		v := m[3]
		switch m[2] {
		case "name":
			// Devices and other nested objects have names too; the VM's
			// is the one at the top level of ConfigInfo (three spaces).
			if len(m[1]) == 3 && c.Name == "" {
				c.Name = v
			}
		case "vmPathName":
			if c.VMPathName == "" {
				c.VMPathName = v
			}
		case "snapshotDirectory":
			c.SnapshotDirectory = v
		case "suspendDirectory":
			c.SuspendDirectory = v
		case "logDirectory":
			c.LogDirectory = v
		}
	}
	if c.VMPathName == "" {
		return c, parseErr("get.config", 0, "no vmPathName line")
	}
	return c, nil
}
