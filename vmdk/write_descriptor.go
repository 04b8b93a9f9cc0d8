package vmdk

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Marshal renders the descriptor as ESXi writes it: header keys, extent
// lines, the change-tracking section when set, then the disk database.
// ParseDescriptor(Marshal()) yields the same descriptor.
func (d *Descriptor) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString("# Disk DescriptorFile\n")
	fmt.Fprintf(&b, "version=%d\n", max(d.Version, 1))
	if d.Encoding != "" {
		fmt.Fprintf(&b, "encoding=%s\n", q(d.Encoding))
	}
	fmt.Fprintf(&b, "CID=%08x\n", d.CID)
	fmt.Fprintf(&b, "parentCID=%08x\n", d.ParentCID)
	if d.IsNativeSnapshot != "" {
		fmt.Fprintf(&b, "isNativeSnapshot=%s\n", q(d.IsNativeSnapshot))
	}
	fmt.Fprintf(&b, "createType=%s\n", q(d.CreateType))
	if d.ParentFileNameHint != "" {
		fmt.Fprintf(&b, "parentFileNameHint=%s\n", q(d.ParentFileNameHint))
	}
	for _, kv := range d.Encryption {
		fmt.Fprintf(&b, "%s = %s\n", kv.Key, q(kv.Value))
	}
	for _, kv := range d.Other {
		fmt.Fprintf(&b, "%s=%s\n", kv.Key, q(kv.Value))
	}
	b.WriteString("\n# Extent description\n")
	for _, e := range d.Extents {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	if d.ChangeTrackPath != "" {
		fmt.Fprintf(&b, "\n# Change Tracking File\nchangeTrackPath=%s\n", q(d.ChangeTrackPath))
	}
	b.WriteString("\n# The Disk Data Base\n#DDB\n\n")
	for _, kv := range d.DDB {
		fmt.Fprintf(&b, "%s = %s\n", kv.Key, q(kv.Value))
	}
	return b.Bytes()
}

// String renders the extent line as it appears in a descriptor.
func (e ExtentLine) String() string {
	s := fmt.Sprintf("%s %d %s", e.Access, e.Sectors, e.Type)
	if e.Type == ExtentZero && e.FileName == "" {
		return s
	}
	s += " " + q(e.FileName)
	if e.Type == ExtentFlat || e.Offset != 0 || e.PartitionUUID != "" || e.DeviceID != "" {
		s += fmt.Sprintf(" %d", e.Offset)
	}
	if e.PartitionUUID != "" || e.DeviceID != "" {
		s += " " + field(e.PartitionUUID)
		if e.DeviceID != "" {
			s += " " + field(e.DeviceID)
		}
	}
	return s
}

// field renders an optional extent field, quoted when it would not
// survive splitting on blanks.
func field(s string) string {
	if s == "" || strings.ContainsAny(s, " \t") {
		return q(s)
	}
	return s
}

// WriteDescriptor writes d to path, refusing to replace an existing file:
// descriptors in a case folder are evidence.
func WriteDescriptor(path string, d *Descriptor) error {
	for _, e := range d.Extents {
		if strings.ContainsAny(e.FileName, "\"\n\r") {
			return fmt.Errorf("vmdk: %s: extent file name %q cannot be written in a descriptor", path, e.FileName)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("vmdk: write descriptor: %w", err)
	}
	if _, err := f.Write(d.Marshal()); err != nil {
		f.Close()
		return fmt.Errorf("vmdk: write descriptor %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("vmdk: write descriptor %s: %w", path, err)
	}
	return nil
}

// q quotes a descriptor value. It does not escape: descriptors have no
// escapes, and names in legacy encodings must keep their bytes.
func q(s string) string { return `"` + s + `"` }
