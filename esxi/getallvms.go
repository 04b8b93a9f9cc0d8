package esxi

import (
	"regexp"
	"strconv"
	"strings"
)

// RegisteredVM is one VM line of vim-cmd vmsvc/getallvms. Only ID is
// reliable: the other fields are split out of a table whose columns are
// free text. Take names and paths from the .vmx and get.config.
type RegisteredVM struct {
	ID         int
	Name       string // best effort
	File       string // as printed: "[datastore1] vm/vm.vmx"
	Datastore  string // "datastore1"; "" when the line has no [datastore] part
	Path       string // "vm/vm.vmx", relative to the datastore
	GuestOS    string
	Version    string // "vmx-13"
	Annotation string // continuation lines joined with "\n"
	Line       int    // 1-based line of the VM in the output
	// Ambiguous is set when brackets in the name or path allowed more than
	// one split between Name and File; the best guess was kept.
	Ambiguous bool
}

// UnparsedLine is an output line that was neither a VM, a continuation of an
// annotation, nor a message the parser knows.
type UnparsedLine struct {
	Line int
	Text string
}

// VMList is the parsed output of getallvms.
type VMList struct {
	VMs []RegisteredVM
	// Invalid lists vmids vim-cmd skipped ("Skipping invalid VM '12'"):
	// registered, but their configuration could not be read. Their files
	// may still be evidence.
	Invalid       []int
	HasAnnotation bool // the header has an Annotation column
	Unparsed      []UnparsedLine
}

var (
	vmidLine    = regexp.MustCompile(`^(\d+)\s+(.*)$`)
	invalidVM   = regexp.MustCompile(`^Skipping invalid VM '(\d+)'`)
	vmWithStore = regexp.MustCompile(`^\[([^\]]*)\] (\S.*?\.vmx)\s+(\S+)\s+(vmx-\d+)(?:\s+(.*?))?\s*$`)
	vmBareFile  = regexp.MustCompile(`^(.+?)\s+(\S+\.vmx)\s+(\S+)\s+(vmx-\d+)(?:\s+(.*?))?\s*$`)
)

// maxBracketCandidates bounds the name/file split search, so a line of
// brackets costs linear time, not quadratic.
const maxBracketCandidates = 32

// ParseGetAllVMs parses vim-cmd vmsvc/getallvms. The header line must be
// there (vim-cmd prints it even when no VM is registered); lines before it
// are kept as Unparsed. After it, a line is a VM when it starts with a vmid
// and ends in "FILE.vmx GUEST vmx-N [ANNOTATION]"; a line that does not is
// the continuation of the previous VM's annotation when the Annotation
// column exists, or Unparsed otherwise. A vmid listed twice is an error.
func ParseGetAllVMs(out string) (*VMList, error) {
	const src = "getallvms"
	l := &VMList{}
	header := false
	seen := map[int]int{}
	var blanks int // blank lines inside an annotation, kept if text follows
	for i, raw := range lines(out) {
		n := i + 1
		line := strings.TrimSpace(raw)
		if m := invalidVM.FindStringSubmatch(line); m != nil {
			id, err := strconv.Atoi(m[1])
			if err == nil {
				l.Invalid = append(l.Invalid, id)
				blanks = 0
				continue
			}
		}
		if !header {
			if f := strings.Fields(line); len(f) >= 6 && f[0] == "Vmid" && f[1] == "Name" && f[2] == "File" {
				header = true
				l.HasAnnotation = f[len(f)-1] == "Annotation"
			} else if line != "" {
				l.Unparsed = append(l.Unparsed, UnparsedLine{n, raw})
			}
			continue
		}
		if line == "" {
			blanks++
			continue
		}
		if m := vmidLine.FindStringSubmatch(line); m != nil {
			if vm, ok := parseVMLine(m[2]); ok {
				id, err := strconv.Atoi(m[1])
				if err != nil {
					return nil, parseErr(src, n, "vmid %q out of range", clip(m[1]))
				}
				if first, dup := seen[id]; dup {
					return nil, parseErr(src, n, "vmid %d listed twice (first on line %d)", id, first)
				}
				seen[id] = n
				vm.ID, vm.Line = id, n
				l.VMs = append(l.VMs, vm)
				blanks = 0
				continue
			}
		}
		if len(l.VMs) > 0 && l.HasAnnotation {
			vm := &l.VMs[len(l.VMs)-1]
			vm.Annotation += strings.Repeat("\n", blanks+1) + strings.TrimRight(raw, " \t\r")
			blanks = 0
			continue
		}
		l.Unparsed = append(l.Unparsed, UnparsedLine{n, raw})
	}
	if !header {
		return nil, parseErr(src, 0, "no \"Vmid Name File Guest OS Version\" header line")
	}
	return l, nil
}

// parseVMLine splits what follows the vmid. Names may contain "[x] y", so
// every "[" that could start the datastore path is tried; the one after the
// widest gap wins (vim-cmd pads columns with at least three spaces), then
// one whose name matches the VM folder (VMs usually live in a folder named
// after them), then the leftmost.
func parseVMLine(rest string) (RegisteredVM, bool) {
	var best RegisteredVM
	bestGap, bestFolder, found, count := -1, false, false, 0
	for pos := 0; pos < len(rest) && count < maxBracketCandidates; pos++ {
		if rest[pos] != '[' {
			continue
		}
		m := vmWithStore.FindStringSubmatch(rest[pos:])
		name := strings.TrimRight(rest[:pos], " \t")
		if m == nil || name == "" {
			continue
		}
		count++
		gap := pos - len(name)
		folder, _, _ := strings.Cut(m[2], "/")
		isFolder := folder == name || strings.TrimSuffix(m[2], ".vmx") == name
		if !found || gap > bestGap || gap == bestGap && isFolder && !bestFolder {
			best = RegisteredVM{Name: name, File: "[" + m[1] + "] " + m[2], Datastore: m[1], Path: m[2],
				GuestOS: m[3], Version: m[4], Annotation: m[5], Ambiguous: found}
			bestGap, bestFolder = gap, isFolder
		} else {
			best.Ambiguous = true
		}
		found = true
	}
	if found {
		return best, true
	}
	if m := vmBareFile.FindStringSubmatch(rest); m != nil {
		return RegisteredVM{Name: m[1], File: m[2], Path: m[2], GuestOS: m[3], Version: m[4], Annotation: m[5]}, true
	}
	return RegisteredVM{}, false
}

// IDs returns the vmids in output order.
func (l *VMList) IDs() []int {
	ids := make([]int, len(l.VMs))
	for i, vm := range l.VMs {
		ids[i] = vm.ID
	}
	return ids
}
