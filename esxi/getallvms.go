package esxi

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
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
	// Named lists, once each in output order, every number that starts a
	// line after the header (and every skipped vmid): each may be a vmid
	// even when its row could not be split, so discovery can ask vim-cmd
	// about the ones not in VMs instead of dropping them. Some are not
	// vmids at all (an annotation line may start with a number).
	Named []int
}

var (
	vmidLine    = regexp.MustCompile(`^(\d+)\s+(.*)$`)
	vmidStart   = regexp.MustCompile(`^(\d+)(?:\s|$)`)
	invalidVM   = regexp.MustCompile(`^Skipping invalid VM '(\d+)'`)
	vmWithStore = regexp.MustCompile(`^\[([^\]]*)\] (.*?\.vmx)\s+(\S+)\s+(vmx-\d+)(?:\s+(.*?))?\s*$`)
	vmBareFile  = regexp.MustCompile(`^(.+?)\s+(\S+\.vmx)\s+(\S+)\s+(vmx-\d+)(?:\s+(.*?))?\s*$`)
)

// maxJoinLines bounds how many lines one VM row may span: a name holding
// newlines continues the row on lines without a vmid.
const maxJoinLines = 16

// maxBracketCandidates bounds the name/file split search, so a line of
// brackets costs linear time, not quadratic.
const maxBracketCandidates = 32

// ParseGetAllVMs parses vim-cmd vmsvc/getallvms. The header line must be
// there (vim-cmd prints it even when no VM is registered); lines before it
// are kept as Unparsed. After it, a line is a VM when it starts with a vmid
// and ends in "FILE.vmx GUEST vmx-N [ANNOTATION]", or when it starts with a
// vmid and, joined with the next few lines that are not VMs themselves,
// does: vim-cmd prints a name holding newlines verbatim, so such a row
// spans lines. A line that is neither is the continuation of the previous
// VM's annotation when the Annotation column exists, or Unparsed
// otherwise. A vmid listed twice is an error. Every number that starts a
// line is also in Named, whether or not its row could be split.
func ParseGetAllVMs(out string) (*VMList, error) {
	const src = "getallvms"
	l := &VMList{}
	header := false
	seen := map[int]int{}
	named := map[int]bool{}
	addNamed := func(id int) {
		if !named[id] {
			named[id] = true
			l.Named = append(l.Named, id)
		}
	}
	var blanks int // blank lines inside an annotation, kept if text follows
	ls := lines(out)
	for i := 0; i < len(ls); i++ {
		raw, n := ls[i], i+1
		line := strings.TrimSpace(raw)
		if m := invalidVM.FindStringSubmatch(line); m != nil {
			id, err := strconv.Atoi(m[1])
			if err == nil {
				l.Invalid = append(l.Invalid, id)
				addNamed(id)
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
		if m := vmidStart.FindStringSubmatch(line); m != nil {
			if id, err := strconv.Atoi(m[1]); err == nil {
				addNamed(id)
			}
		}
		if idText, vm, used, ok := vmRow(ls[i:]); ok {
			id, err := strconv.Atoi(idText)
			if err != nil {
				return nil, parseErr(src, n, "vmid %q out of range", clip(idText))
			}
			if first, dup := seen[id]; dup {
				return nil, parseErr(src, n, "vmid %d listed twice (first on line %d)", id, first)
			}
			seen[id] = n
			vm.ID, vm.Line = id, n
			l.VMs = append(l.VMs, vm)
			i += used - 1
			blanks = 0
			continue
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

// vmRow parses the VM row that starts at ls[0] and returns its vmid as
// printed and how many lines it spans. A row that does not parse alone is
// joined with the following lines, up to maxJoinLines in all, that are not
// rows themselves, until the joined text parses: a line that parses as a
// row alone is never taken, so an annotation line starting with a number
// cannot swallow the next VM.
func vmRow(ls []string) (string, RegisteredVM, int, bool) {
	// Only leading blanks go: trailing ones may belong to a name that
	// goes on on the next line.
	m := vmidLine.FindStringSubmatch(strings.TrimLeftFunc(ls[0], unicode.IsSpace))
	if m == nil {
		return "", RegisteredVM{}, 0, false
	}
	if vm, ok := parseVMLine(m[2]); ok {
		return m[1], vm, 1, true
	}
	text := m[2]
	for k := 1; k < len(ls) && k < maxJoinLines; k++ {
		if isVMRow(ls[k]) {
			break
		}
		text += "\n" + ls[k]
		if vm, ok := parseVMLine(text); ok {
			return m[1], vm, k + 1, true
		}
	}
	return "", RegisteredVM{}, 0, false
}

// isVMRow reports whether line is a whole VM row by itself.
func isVMRow(line string) bool {
	m := vmidLine.FindStringSubmatch(strings.TrimLeftFunc(line, unicode.IsSpace))
	if m == nil {
		return false
	}
	_, ok := parseVMLine(m[2])
	return ok
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
