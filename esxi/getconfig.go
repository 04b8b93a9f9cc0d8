package esxi

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// DatastorePath is a vSphere datastore path, "[datastore1] vm/vm.vmx".
type DatastorePath struct {
	Datastore string
	Path      string // relative to the datastore root; may be ""
}

// ParseDatastorePath splits "[DATASTORE] PATH". A datastore name may hold
// brackets and spaces ("[Old SAN [LUN 5]] vm/vm.vmx"), and so may the path,
// so the name ends at the "] " (or the final "]") that closes the leading
// "[" with the brackets between balanced. When no such "]" exists and more
// than one would do, the split is ambiguous and an error says so; pass the
// host's datastore names to [ParseDatastorePathIn] to settle it.
func ParseDatastorePath(s string) (DatastorePath, error) {
	return ParseDatastorePathIn(s, nil)
}

// ErrAmbiguousPath: a "[DATASTORE] PATH" splits more than one way, and
// only the host's datastore names ([ParseDatastorePathIn]) can tell which.
var ErrAmbiguousPath = errors.New("datastore path is ambiguous")

// ParseDatastorePathIn is [ParseDatastorePath] that first tries the given
// datastore names (esxcli storage filesystem list), longest first, which
// settles names with unbalanced brackets such as "[a]b] x.vmx".
func ParseDatastorePathIn(s string, datastores []string) (DatastorePath, error) {
	const src = "datastore path"
	if !strings.HasPrefix(s, "[") {
		return DatastorePath{}, parseErr(src, 0, "%q does not start with [datastore]", clip(s))
	}
	var cands []int // indexes of a "]" that can end the name
	for i := 1; i < len(s); i++ {
		if s[i] == ']' && (i+1 == len(s) || s[i+1] == ' ') && validDatastoreName(s[1:i]) {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return DatastorePath{}, parseErr(src, 0, "%q has no \"] \" after a datastore name (not empty, no '/')", clip(s))
	}
	split := func(i int) DatastorePath {
		p := DatastorePath{Datastore: s[1:i]}
		if i+2 <= len(s) {
			p.Path = s[i+2:]
		}
		return p
	}
	best := -1
	for _, i := range cands {
		if slices.Contains(datastores, s[1:i]) {
			best = i // later candidates are longer names
		}
	}
	if best >= 0 {
		return split(best), nil
	}
	// At most one candidate has balanced brackets: the "]" of a balanced
	// name drives any longer name below zero.
	for _, i := range cands {
		if bracketsBalanced(s[1:i]) {
			return split(i), nil
		}
	}
	if len(cands) == 1 {
		return split(cands[0]), nil
	}
	names := make([]string, len(cands))
	for k, i := range cands {
		names[k] = strconv.Quote(s[1:i])
	}
	return DatastorePath{}, &ParseError{Source: src, Err: ErrAmbiguousPath,
		Reason: fmt.Sprintf("%q is ambiguous: the datastore may be any of %s; pass the host's datastore names to tell", clip(s), strings.Join(names, ", "))}
}

func validDatastoreName(n string) bool {
	return n != "" && !strings.ContainsAny(n, "/\x00")
}

// bracketsBalanced reports whether every "]" in s closes an earlier "[".
func bracketsBalanced(s string) bool {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
			if depth < 0 {
				return false
			}
		}
	}
	return depth == 0
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

var configField = regexp.MustCompile(`^(\s*)(name|vmPathName|snapshotDirectory|suspendDirectory|logDirectory) = "(.*)$`)

// maxValueLines bounds how many lines one quoted value may span.
const maxValueLines = 16

// ParseConfigFiles extracts the file locations from vim-cmd
// vmsvc/get.config, a vmodl dump ("   files = (vim.vm.FileInfo) {" ...).
// Only these fields are read. A value is unescaped as the dump escapes
// it (\\ \" \n \t \r); a quote the dump left unescaped is kept, and a
// value holding a raw newline goes on over the next lines. vmPathName is
// required.
func ParseConfigFiles(out string) (ConfigFiles, error) {
	var c ConfigFiles
	if err := Classify(out); err != nil {
		return c, err
	}
	ls := lines(out)
	for i := 0; i < len(ls); i++ {
		m := configField.FindStringSubmatch(ls[i])
		if m == nil {
			continue
		}
		v, used, ok := vmodlString(m[3], ls[i+1:])
		if !ok {
			continue
		}
		i += used
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

// vmodlString reads a quoted string of a vmodl dump: s is what follows
// the opening quote on its line, more the lines after it. The string ends
// at a quote followed only by an optional comma on its line; it returns
// the unescaped value and how many of more it used.
func vmodlString(s string, more []string) (string, int, bool) {
	var b strings.Builder
	for used := 0; ; used++ {
		for i := 0; i < len(s); i++ {
			switch c := s[i]; {
			case c == '\\' && i+1 < len(s):
				i++
				switch s[i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 'r':
					b.WriteByte('\r')
				case '\\', '"':
					b.WriteByte(s[i])
				default: // not an escape the dump makes: keep it as printed
					b.WriteByte('\\')
					b.WriteByte(s[i])
				}
			case c == '"' && closesValue(s[i+1:]):
				return b.String(), used, true
			default:
				b.WriteByte(c)
			}
		}
		if used >= len(more) || used+1 >= maxValueLines {
			return "", 0, false
		}
		b.WriteByte('\n')
		s = more[used]
	}
}

// closesValue reports whether rest, what follows a quote on its line,
// makes that quote the end of the value.
func closesValue(rest string) bool {
	rest = strings.TrimRight(rest, " \t")
	return rest == "" || rest == ","
}

// DatastoreHostPath resolves "[DATASTORE] PATH" to its host path
// (/vmfs/volumes/DATASTORE/PATH), settling names with brackets against
// the host's datastores (esxcli storage filesystem list) as
// [ParseDatastorePathIn] does.
func DatastoreHostPath(s string, stores []Filesystem) (string, error) {
	names := make([]string, 0, len(stores))
	for _, fs := range stores {
		if fs.VolumeName != "" {
			names = append(names, fs.VolumeName)
		}
	}
	dp, err := ParseDatastorePathIn(s, names)
	if err != nil {
		return "", err
	}
	return dp.HostPath(), nil
}

// VolumesDir is where ESXi mounts datastores, by label and by UUID.
const VolumesDir = "/vmfs/volumes"

// VolumePath is rel on datastore (a label or a UUID):
// /vmfs/volumes/DATASTORE/REL, or the datastore's root for rel "".
func VolumePath(datastore, rel string) string {
	return DatastorePath{Datastore: datastore, Path: rel}.HostPath()
}

// SplitVolumePath splits /vmfs/volumes/DATASTORE/REL into the datastore
// (a label or a UUID) and REL ("" for the root); ok is false for a path
// outside /vmfs/volumes.
func SplitVolumePath(p string) (datastore, rel string, ok bool) {
	rest, ok := strings.CutPrefix(p, VolumesDir+"/")
	if !ok {
		return "", "", false
	}
	datastore, rel, _ = strings.Cut(rest, "/")
	return datastore, rel, true
}

// DiskHostPath resolves a disk file name as a .vmx or a descriptor writes
// it (relative to dir, "../FOLDER/NAME", or an absolute /vmfs/volumes/
// <uuid or label>/... path) to the one path discovery and the plan use
// for that file: ".." is resolved lexically and the datastore is named by
// its label ([CanonicalHostPath]). Lexical resolution is the host's own
// here: a datastore's folders are directories, and /vmfs/volumes/LABEL is
// a link to a sibling /vmfs/volumes/UUID, so "LABEL/.." is /vmfs/volumes
// either way. One file reached by two spellings is then one file, copied
// once to one place.
func DiskHostPath(dir, name string, stores []Filesystem) string {
	p := JoinHostPath(dir, name)
	if p == "" {
		return ""
	}
	return CanonicalHostPath(path.Clean(p), stores)
}

// CanonicalHostPath names a datastore file by its label,
// /vmfs/volumes/LABEL/..., whether the host printed the label or the
// volume's UUID (esxcli vm process list prints the UUID, get.config the
// label), so the two compare equal. Other paths are returned as they are.
func CanonicalHostPath(p string, stores []Filesystem) string {
	for _, ds := range stores {
		if ds.VolumeName == "" {
			continue
		}
		for _, prefix := range []string{ds.MountPoint, VolumesDir + "/" + ds.UUID} {
			if prefix == "" || prefix == VolumesDir+"/" {
				continue
			}
			if rest, ok := strings.CutPrefix(p, prefix+"/"); ok {
				return VolumePath(ds.VolumeName, rest)
			}
		}
	}
	return p
}
