package vmdk

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// NoParentCID is the parentCID of a disk without a parent.
const NoParentCID = 0xffffffff

// Extent access modes.
const (
	AccessRW       = "RW"
	AccessRDONLY   = "RDONLY"
	AccessNOACCESS = "NOACCESS"
)

// ExtentType names the kind of data behind an extent line.
type ExtentType string

// Extent types found in descriptors.
const (
	ExtentFlat       ExtentType = "FLAT"       // raw file, with a sector offset
	ExtentSparse     ExtentType = "SPARSE"     // hosted sparse (KDMV) file
	ExtentZero       ExtentType = "ZERO"       // no file; reads as zeros
	ExtentVMFS       ExtentType = "VMFS"       // raw file on VMFS (ESXi base disk)
	ExtentVMFSSparse ExtentType = "VMFSSPARSE" // COWD snapshot delta
	ExtentSESparse   ExtentType = "SESPARSE"   // seSparse snapshot delta
	ExtentVMFSRDM    ExtentType = "VMFSRDM"    // raw device mapping; data on a LUN
	ExtentVMFSRaw    ExtentType = "VMFSRAW"    // legacy raw device
)

var extentTypes = []ExtentType{ExtentFlat, ExtentSparse, ExtentZero, ExtentVMFS,
	ExtentVMFSSparse, ExtentSESparse, ExtentVMFSRDM, ExtentVMFSRaw}

// createTypes lists every known createType in its canonical spelling,
// with the aliases found in the wild mapped to it.
var createTypes = map[string]string{
	"monolithicsparse":            "monolithicSparse",
	"monolithicflat":              "monolithicFlat",
	"twogbmaxextentsparse":        "twoGbMaxExtentSparse",
	"2gbmaxextentsparse":          "twoGbMaxExtentSparse",
	"twogbmaxextentflat":          "twoGbMaxExtentFlat",
	"2gbmaxextentflat":            "twoGbMaxExtentFlat",
	"streamoptimized":             "streamOptimized",
	"vmfs":                        "vmfs",
	"vmfssparse":                  "vmfsSparse",
	"sesparse":                    "seSparse",
	"vmfsthin":                    "vmfsThin",
	"vmfspreallocated":            "vmfsPreallocated",
	"vmfseagerzeroedthick":        "vmfsEagerZeroedThick",
	"vmfsrawdevicemap":            "vmfsRawDeviceMap",
	"vmfsrdm":                     "vmfsRawDeviceMap",
	"vmfspassthroughrawdevicemap": "vmfsPassthroughRawDeviceMap",
	"vmfsrdmp":                    "vmfsPassthroughRawDeviceMap",
	"vmfsraw":                     "vmfsRaw",
	"fulldevice":                  "fullDevice",
	"partitioneddevice":           "partitionedDevice",
	"custom":                      "custom",
}

// ExtentLine is one parsed extent line:
// ACCESS SECTORS TYPE ["FILENAME" [OFFSET [PARTITION_UUID [DEVICE_ID]]]].
type ExtentLine struct {
	Access        string     `json:"access"`
	Sectors       int64      `json:"sectors"`
	Type          ExtentType `json:"type"`
	FileName      string     `json:"file,omitempty"`
	Offset        int64      `json:"offset,omitempty"` // in sectors; FLAT/VMFS only
	PartitionUUID string     `json:"partition_uuid,omitempty"`
	DeviceID      string     `json:"device_id,omitempty"`
	Line          int        `json:"line"` // 1-based line in the descriptor
}

// KeyValue is one key = value line kept in file order.
type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Line  int    `json:"line,omitempty"`
}

// Descriptor is a parsed VMDK text descriptor.
type Descriptor struct {
	Version            int    // 1, 2 or 3
	Encoding           string // "" when absent (UTF-8 is the default)
	CID                uint32
	ParentCID          uint32 // NoParentCID when the disk has no parent
	IsNativeSnapshot   string
	CreateType         string // canonical spelling (see createTypes)
	ParentFileNameHint string
	ChangeTrackPath    string // CBT file, version 3
	Extents            []ExtentLine
	DDB                []KeyValue // ddb.* lines, keys as written
	Encryption         []KeyValue // encryption.* lines (vSphere VM encryption)
	Other              []KeyValue // unrecognised header keys, kept for the record

	hasCID, hasParentCID bool
}

// HasCID reports whether the descriptor had a CID line.
func (d *Descriptor) HasCID() bool { return d.hasCID }

// HasParent reports whether the descriptor names a parent disk.
func (d *Descriptor) HasParent() bool { return d.ParentFileNameHint != "" }

// Sectors is the virtual size: the sum of the extent sizes.
func (d *Descriptor) Sectors() int64 {
	var n int64
	for _, e := range d.Extents {
		n += e.Sectors
	}
	return n
}

// DDBValue returns the value of ddb.<key> (case-insensitive) and whether
// it was present.
func (d *Descriptor) DDBValue(key string) (string, bool) {
	for _, kv := range d.DDB {
		if strings.EqualFold(kv.Key, "ddb."+key) {
			return kv.Value, true
		}
	}
	return "", false
}

// Encrypted reports whether the descriptor carries vSphere VM encryption
// settings: encryption.* lines, a ddb.keySafe, or the vmwarecrypt I/O
// filter. The extents then hold ciphertext.
func (d *Descriptor) Encrypted() bool {
	if len(d.Encryption) > 0 {
		return true
	}
	if v, ok := d.DDBValue("keySafe"); ok && v != "" {
		return true
	}
	v, _ := d.DDBValue("iofilters")
	return strings.Contains(strings.ToLower(v), "crypt")
}

// ParseDescriptor parses descriptor text. name is used in error messages
// only. The text ends at the first NUL (embedded and qemu-written
// descriptors are NUL-padded); LF and CRLF line ends are both accepted; keys are
// case-insensitive. Every line must be a comment, a key=value pair or an
// extent line, and a repeated header key is an error, so a damaged or
// truncated descriptor is reported with its line number instead of being
// half-read.
func ParseDescriptor(name string, text []byte) (*Descriptor, error) {
	if len(text) > MaxDescriptorSize {
		return nil, &DescriptorError{File: name, Reason: fmt.Sprintf("%d bytes is too large for a descriptor (at most %d); is this a data file?", len(text), MaxDescriptorSize)}
	}
	// The text ends at the first NUL. What follows is padding, or stale
	// bytes: qemu rewrites the CID in place, and a CID with fewer hex
	// digits leaves the old descriptor's tail behind the new NUL.
	if i := bytes.IndexByte(text, 0); i >= 0 {
		text = text[:i]
	}
	d := &Descriptor{Version: 1, ParentCID: NoParentCID}
	p := descParser{d: d, name: name, seen: map[string]int{}}
	lines := strings.Split(string(text), "\n")
	for i, raw := range lines {
		if err := p.line(i+1, raw); err != nil {
			return nil, err
		}
	}
	if d.CreateType == "" {
		return nil, &DescriptorError{File: name, Reason: "no createType line; the descriptor is incomplete or truncated"}
	}
	if len(d.Extents) == 0 {
		return nil, &DescriptorError{File: name, Reason: "no extent lines (RW/RDONLY/NOACCESS ...); the descriptor is incomplete or truncated"}
	}
	return d, nil
}

type descParser struct {
	d    *Descriptor
	name string
	seen map[string]int // lower-cased header key -> line
	// sectors sums the extent sizes so far; each is at most
	// maxCapacitySectors, so the sum cannot overflow before it is checked.
	sectors int64
}

func (p *descParser) errf(line int, format string, args ...any) error {
	return &DescriptorError{File: p.name, Line: line, Reason: fmt.Sprintf(format, args...)}
}

func (p *descParser) line(n int, raw string) error {
	s := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
	if s == "" || s[0] == '#' {
		return nil
	}
	first, _, _ := strings.Cut(s, " ")
	first, _, _ = strings.Cut(first, "\t")
	switch strings.ToUpper(first) {
	case AccessRW, AccessRDONLY, AccessNOACCESS:
		e, err := p.extent(n, s)
		if err != nil {
			return err
		}
		if len(p.d.Extents) >= maxExtents {
			return p.errf(n, "more than %d extent lines: no real disk has that many; the descriptor is damaged or forged", maxExtents)
		}
		// The disk is the sum of its extents: keep the sum plausible, so
		// no size computed from it can overflow.
		if p.sectors += e.Sectors; p.sectors > maxCapacitySectors {
			return p.errf(n, "extent sizes add up to %d sectors (%s) by this line, more than the largest disk accepted (%s): the descriptor is damaged or forged",
				p.sectors, bigSize(uint64(p.sectors)), sizeString(MaxCapacity))
		}
		p.d.Extents = append(p.d.Extents, e)
		return nil
	}
	key, val, ok := strings.Cut(s, "=")
	if !ok {
		return p.errf(n, "%q is neither key=value, an extent line nor a comment", clip(s))
	}
	key = strings.TrimSpace(key)
	if key == "" || strings.ContainsAny(key, " \t\"") {
		return p.errf(n, "malformed key %q", clip(key))
	}
	v, err := unquote(strings.TrimSpace(val))
	if err != nil {
		return p.errf(n, "%s: %v", key, err)
	}
	return p.keyValue(n, key, v)
}

func (p *descParser) keyValue(n int, key, v string) error {
	lk := strings.ToLower(key)
	if first, dup := p.seen[lk]; dup {
		return p.errf(n, "%s repeated (first on line %d); the descriptor is ambiguous", key, first)
	}
	p.seen[lk] = n
	d := p.d
	switch {
	case lk == "version":
		ver, err := strconv.Atoi(v)
		if err != nil || ver < 1 || ver > 3 {
			return p.errf(n, "version %q is not 1, 2 or 3", clip(v))
		}
		d.Version = ver
	case lk == "encoding":
		d.Encoding = v
	case lk == "cid":
		c, err := parseCID(v)
		if err != nil {
			return p.errf(n, "CID: %v", err)
		}
		d.CID, d.hasCID = c, true
	case lk == "parentcid":
		c, err := parseCID(v)
		if err != nil {
			return p.errf(n, "parentCID: %v", err)
		}
		d.ParentCID, d.hasParentCID = c, true
	case lk == "isnativesnapshot":
		d.IsNativeSnapshot = v
	case lk == "createtype":
		ct, ok := createTypes[strings.ToLower(v)]
		if !ok {
			return p.errf(n, "unknown createType %q", clip(v))
		}
		d.CreateType = ct
	case lk == "parentfilenamehint":
		if v == "" {
			return p.errf(n, "empty parentFileNameHint")
		}
		d.ParentFileNameHint = v
	case lk == "changetrackpath":
		d.ChangeTrackPath = v
	case strings.HasPrefix(lk, "ddb."):
		d.DDB = append(d.DDB, KeyValue{key, v, n})
	case strings.HasPrefix(lk, "encryption."):
		d.Encryption = append(d.Encryption, KeyValue{key, v, n})
	default:
		d.Other = append(d.Other, KeyValue{key, v, n})
	}
	return nil
}

// extent parses ACCESS SECTORS TYPE ["FILENAME" [OFFSET [UUID [DEVICE]]]].
func (p *descParser) extent(n int, s string) (ExtentLine, error) {
	f, err := extentFields(s)
	if err != nil {
		return ExtentLine{}, p.errf(n, "extent line: %v", err)
	}
	e := ExtentLine{Access: strings.ToUpper(f[0]), Line: n}
	if len(f) < 3 {
		return e, p.errf(n, "extent line has %d fields, want at least 3 (access, sectors, type)", len(f))
	}
	e.Sectors, err = strconv.ParseInt(f[1], 10, 64)
	if err != nil || e.Sectors < 0 {
		return e, p.errf(n, "extent size %q is not a sector count", clip(f[1]))
	}
	if e.Sectors > maxCapacitySectors {
		return e, p.errf(n, "extent size of %d sectors (%s) is more than the largest disk accepted (%s)", e.Sectors, bigSize(uint64(e.Sectors)), sizeString(MaxCapacity))
	}
	e.Type = ExtentType(strings.ToUpper(f[2]))
	known := false
	for _, t := range extentTypes {
		known = known || t == e.Type
	}
	if !known {
		return e, p.errf(n, "unknown extent type %q", clip(f[2]))
	}
	if e.Type == ExtentZero {
		if len(f) > 3 {
			e.FileName = f[3]
		}
		return e, nil
	}
	if len(f) < 4 || f[3] == "" {
		return e, p.errf(n, "extent line has %d fields, want at least 4 (a quoted file name for a %s extent)", len(f), e.Type)
	}
	e.FileName = f[3]
	if len(f) > 4 {
		e.Offset, err = strconv.ParseInt(f[4], 10, 64)
		if err != nil || e.Offset < 0 || e.Offset > maxSectors {
			return e, p.errf(n, "extent offset %q is not a sector number", clip(f[4]))
		}
		if e.Type != ExtentFlat && e.Type != ExtentVMFS {
			return e, p.errf(n, "a %s extent takes no offset", e.Type)
		}
	}
	if len(f) > 5 {
		e.PartitionUUID = f[5]
	}
	if len(f) > 6 {
		e.DeviceID = f[6]
	}
	if len(f) > 7 {
		return e, p.errf(n, "extent line has %d fields, want at most 7", len(f))
	}
	return e, nil
}

// extentFields splits an extent line on blanks, keeping a quoted file name
// (which may contain blanks) as one field without its quotes.
func extentFields(s string) ([]string, error) {
	var f []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return f, nil
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated quoted file name %s", clip(s))
			}
			f = append(f, s[1:1+end])
			s = s[2+end:]
			if s != "" && s[0] != ' ' && s[0] != '\t' {
				return nil, fmt.Errorf("text %q right after a quoted file name", clip(s))
			}
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		if strings.Contains(s[:end], `"`) {
			return nil, fmt.Errorf("stray quote in %s", clip(s[:end]))
		}
		f = append(f, s[:end])
		s = s[end:]
	}
}

// unquote strips one pair of double quotes; bare values are accepted too
// (createType=monolithicFlat appears in third-party files).
func unquote(v string) (string, error) {
	if v == "" || v[0] != '"' {
		if strings.Contains(v, `"`) {
			return "", fmt.Errorf("stray quote in value %s", clip(v))
		}
		return v, nil
	}
	if len(v) < 2 || v[len(v)-1] != '"' {
		return "", fmt.Errorf("unterminated quoted value %s", clip(v))
	}
	inner := v[1 : len(v)-1]
	if strings.Contains(inner, `"`) {
		return "", fmt.Errorf("quote inside quoted value %s", clip(v))
	}
	return inner, nil
}

// parseCID parses a content ID: 1 to 8 hex digits (qemu omits leading
// zeros).
func parseCID(v string) (uint32, error) {
	if v == "" || len(v) > 8 {
		return 0, fmt.Errorf("%q is not 1 to 8 hex digits", clip(v))
	}
	c, err := strconv.ParseUint(v, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not 1 to 8 hex digits", clip(v))
	}
	return uint32(c), nil
}

// clip shortens text quoted in error messages, so a binary file fed to
// the parser does not flood the terminal.
func clip(s string) string {
	const max = 60
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
