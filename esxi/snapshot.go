package esxi

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SnapshotNode is one snapshot in vim-cmd's snapshot tree.
type SnapshotNode struct {
	Name        string
	ID          int
	Description string
	// CreatedRaw is the time as printed ("2/23/2015 18:12:50"); Created is
	// that wall-clock time parsed, in UTC for want of better: vim-cmd does
	// not say which time zone it means. Zero when it did not parse.
	CreatedRaw string
	Created    time.Time
	State      string // "powered on", "powered off", "suspended"
	// Quiesced is set when the output has a "Snapshot Quiesced" line
	// (the 5.x-6.7 outputs seen have none).
	Quiesced *bool
	// Extra holds "Snapshot X : v" lines this parser does not know, by X.
	Extra    map[string]string
	Depth    int // 0 for a root
	Line     int // 1-based line of the |-ROOT / |-CHILD marker
	Children []*SnapshotNode
}

// SnapshotTree is the parsed output of vim-cmd vmsvc/snapshot.get (and of
// snapshot.remove and snapshot.revert on versions that print the tree).
type SnapshotTree struct {
	Header string // "Get Snapshot:", "Remove Snapshot:" ...
	Roots  []*SnapshotNode
}

var (
	snapHeader = regexp.MustCompile(`^[A-Z][A-Za-z ]* Snapshots?:$`)
	snapNode   = regexp.MustCompile(`^(-*)\|-(ROOT|CHILD)$`)
	snapField  = regexp.MustCompile(`^(-+)Snapshot ([A-Za-z][A-Za-z ]*?)\s*:\s?(.*)$`)
)

// snapTimeLayouts are the forms of "Snapshot Created On" seen (month/day
// without leading zeros).
var snapTimeLayouts = []string{"1/2/2006 15:04:05", "1/2/2006 3:04:05 PM"}

// ParseSnapshotTree parses the snapshot tree vim-cmd prints. "Get Snapshot:"
// alone means no snapshot. Each level of the tree adds two dashes: a node
// marker "|-ROOT" or "--|-CHILD" at depth d has 2d dashes and its fields
// ("--Snapshot Name : x") 2d+2. Field labels are matched case-sensitively
// with the misspelling "Desciption" accepted, and the spacing before ":" is
// ignored (vim-cmd misaligns "Snapshot Id"). A line that fits nothing is an
// error, except after a description, where it continues the description.
func ParseSnapshotTree(out string) (*SnapshotTree, error) {
	const src = "snapshot tree"
	t := &SnapshotTree{}
	var stack []*SnapshotNode // stack[d] is the open node at depth d
	var last string           // field the previous line set, for continuations
	for i, raw := range lines(out) {
		n := i + 1
		line := strings.TrimSpace(raw)
		if t.Header == "" {
			if line == "" {
				continue
			}
			if !snapHeader.MatchString(line) {
				if err := Classify(out); err != nil {
					return nil, err
				}
				return nil, parseErr(src, n, "want a header such as \"Get Snapshot:\", got %q", clip(line))
			}
			t.Header = line
			continue
		}
		if m := snapNode.FindStringSubmatch(line); m != nil {
			d := len(m[1])
			if d%2 != 0 {
				return nil, parseErr(src, n, "odd number of dashes before |-%s", m[2])
			}
			d /= 2
			if (d == 0) != (m[2] == "ROOT") {
				return nil, parseErr(src, n, "|-%s at depth %d", m[2], d)
			}
			if d > len(stack) {
				return nil, parseErr(src, n, "|-CHILD at depth %d has no parent at depth %d", d, d-1)
			}
			node := &SnapshotNode{Depth: d, Line: n, ID: -1}
			if d == 0 {
				t.Roots = append(t.Roots, node)
			} else {
				p := stack[d-1]
				p.Children = append(p.Children, node)
			}
			stack = append(stack[:d], node)
			last = ""
			continue
		}
		if m := snapField.FindStringSubmatch(line); m != nil {
			if len(m[1])%2 != 0 || len(m[1])/2-1 != len(stack)-1 || len(stack) == 0 {
				return nil, parseErr(src, n, "field with %d dashes does not belong to the snapshot above it", len(m[1]))
			}
			node := stack[len(stack)-1]
			if err := node.set(m[2], strings.TrimRight(m[3], " \t")); err != nil {
				return nil, parseErr(src, n, "%s", err)
			}
			last = m[2]
			continue
		}
		if (last == "Desciption" || last == "Description") && len(stack) > 0 {
			node := stack[len(stack)-1]
			node.Description += "\n" + strings.TrimRight(raw, " \t\r")
			continue
		}
		if line == "" {
			continue
		}
		return nil, parseErr(src, n, "%q is not a snapshot marker or field", clip(line))
	}
	if t.Header == "" {
		return nil, parseErr(src, 0, "empty output: no \"Get Snapshot:\" header")
	}
	var check func(nodes []*SnapshotNode) error
	check = func(nodes []*SnapshotNode) error {
		for _, s := range nodes {
			if s.ID < 0 {
				return parseErr(src, s.Line, "snapshot has no \"Snapshot Id\" line")
			}
			if err := check(s.Children); err != nil {
				return err
			}
		}
		return nil
	}
	if err := check(t.Roots); err != nil {
		return nil, err
	}
	return t, nil
}

func (s *SnapshotNode) set(label, v string) error {
	switch label {
	case "Name":
		s.Name = v
	case "Id":
		id, err := strconv.Atoi(v)
		if err != nil || id < 0 {
			return fmt.Errorf("Snapshot Id %q is not a number", clip(v))
		}
		s.ID = id
	case "Desciption", "Description":
		s.Description = v
	case "Created On":
		s.CreatedRaw = v
		for _, layout := range snapTimeLayouts {
			if tm, err := time.Parse(layout, v); err == nil {
				s.Created = tm
				break
			}
		}
	case "State":
		s.State = v
	case "Quiesced":
		b := strings.EqualFold(v, "true") || v == "1"
		s.Quiesced = &b
	default:
		if s.Extra == nil {
			s.Extra = map[string]string{}
		}
		s.Extra[label] = v
	}
	return nil
}

// All returns every snapshot, depth first in output order.
func (t *SnapshotTree) All() []*SnapshotNode {
	var all []*SnapshotNode
	var walk func([]*SnapshotNode)
	walk = func(nodes []*SnapshotNode) {
		for _, s := range nodes {
			all = append(all, s)
			walk(s.Children)
		}
	}
	walk(t.Roots)
	return all
}

// ByName returns every snapshot named name. Our own snapshot is created with
// a unique name; more or fewer than one hit means someone else is at work on
// the VM, and the orchestrator must not guess.
func (t *SnapshotTree) ByName(name string) []*SnapshotNode {
	var hits []*SnapshotNode
	for _, s := range t.All() {
		if s.Name == name {
			hits = append(hits, s)
		}
	}
	return hits
}

// ByID returns the snapshot with id, or nil.
func (t *SnapshotTree) ByID(id int) *SnapshotNode {
	for _, s := range t.All() {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// CheckSnapshotCreate checks the output of vim-cmd vmsvc/snapshot.create:
// "Create Snapshot:" and nothing else. Anything more is vim-cmd reporting a
// failure, returned as an error (matching a sentinel when [Classify] knows
// the message).
func CheckSnapshotCreate(out string) error {
	return checkOnly("snapshot.create", out, "Create Snapshot:")
}

// ParseSnapshotRemove checks the output of vim-cmd vmsvc/snapshot.remove:
// "Remove Snapshot:", on some versions followed by the remaining tree, which
// is returned (with no roots when the output stops at the header).
func ParseSnapshotRemove(out string) (*SnapshotTree, error) {
	t, err := ParseSnapshotTree(out)
	if err != nil {
		return nil, err
	}
	if t.Header != "Remove Snapshot:" {
		return nil, parseErr("snapshot.remove", 0, "header %q is not \"Remove Snapshot:\"", t.Header)
	}
	return t, nil
}

// checkOnly accepts output that is exactly want (plus blank lines).
func checkOnly(src, out, want string) error {
	ok := false
	for i, l := range lines(out) {
		t := strings.TrimSpace(l)
		switch {
		case t == "":
		case t == want && !ok:
			ok = true
		default:
			if err := Classify(out); err != nil {
				return err
			}
			return parseErr(src, i+1, "unexpected output %q", clip(t))
		}
	}
	if !ok {
		if err := Classify(out); err != nil {
			return err
		}
		return parseErr(src, 0, "no %q line", want)
	}
	return nil
}
