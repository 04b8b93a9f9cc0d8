package vmdk

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Info summarises a disk and its chain for `esxsink vmdk info`.
type Info struct {
	Path       string `json:"path"`
	CreateType string `json:"create_type"`
	Size       int64  `json:"size"`
	// AllocatedBytes counts guest bytes that some layer stores as data;
	// ZeroBytes those a layer explicitly marks as zeros.
	AllocatedBytes int64       `json:"allocated_bytes"`
	ZeroBytes      int64       `json:"zero_bytes"`
	Encrypted      bool        `json:"encrypted"`
	VMSD           string      `json:"vmsd,omitempty"`
	Chain          []LayerInfo `json:"chain"`
	Warnings       []string    `json:"warnings,omitempty"`
	// Errors lists allocation maps that could not be read (a grain table
	// past the end of its file...): the counts above stop there, and the
	// disk cannot be converted as it is.
	Errors []string `json:"errors,omitempty"`
}

// LayerInfo describes one layer of the chain.
type LayerInfo struct {
	Depth              int          `json:"depth"`
	Path               string       `json:"path"`
	Embedded           bool         `json:"embedded_descriptor,omitempty"`
	CreateType         string       `json:"create_type"`
	Size               int64        `json:"size"`
	CID                string       `json:"cid"`
	ParentCID          string       `json:"parent_cid"`
	ParentFileNameHint string       `json:"parent_file_name_hint,omitempty"`
	CIDMatchesParent   *bool        `json:"cid_matches_parent,omitempty"`
	ChangeTrackPath    string       `json:"change_track_path,omitempty"`
	Encrypted          bool         `json:"encrypted,omitempty"`
	Snapshots          []string     `json:"snapshots,omitempty"` // snapshots whose state this layer is
	AllocatedBytes     int64        `json:"allocated_bytes"`     // stored as data in this layer
	ZeroBytes          int64        `json:"zero_bytes"`          // marked zero in this layer
	Extents            []ExtentInfo `json:"extents"`
}

// ExtentInfo describes one extent of a layer.
type ExtentInfo struct {
	ExtentLine
	Path           string `json:"path,omitempty"` // the file read, as resolved in the case
	Format         string `json:"format"`
	AllocatedBytes int64  `json:"allocated_bytes"`
	ZeroBytes      int64  `json:"zero_bytes"`
}

// Info walks the allocation maps of every layer (grain tables only, no
// grain data) and summarises the disk. v may be nil; with it, each layer
// is labelled with the snapshots whose state it holds.
func (d *Disk) Info(ctx context.Context, v *VMSD, o *Options) (*Info, error) {
	top := d.Layers[0]
	in := &Info{Path: top.Path, CreateType: top.Descriptor.CreateType, Size: d.size, Encrypted: d.Encrypted(), Warnings: d.Warnings}
	if v != nil {
		in.VMSD = v.Path
	}
	names := d.snapshotNames(v, o)
	for i, l := range d.Layers {
		ds := l.Descriptor
		li := LayerInfo{Depth: i, Path: l.Path, Embedded: l.Embedded, CreateType: ds.CreateType, Size: l.Size,
			CID: cidString(ds.CID, ds.hasCID), ParentCID: cidString(ds.ParentCID, ds.hasParentCID),
			ParentFileNameHint: ds.ParentFileNameHint, ChangeTrackPath: ds.ChangeTrackPath,
			Encrypted: l.Encrypted(), Snapshots: names[i]}
		if i+1 < len(d.Layers) {
			ok := ds.hasParentCID && d.Layers[i+1].Descriptor.hasCID && ds.ParentCID == d.Layers[i+1].Descriptor.CID
			li.CIDMatchesParent = &ok
		}
		for _, e := range l.extents {
			ei := ExtentInfo{ExtentLine: e.line, Path: e.path, Format: e.ext.format()}
			for off := int64(0); off < e.size; {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				// A whole run per step: a hole or a ZERO extent of any size
				// is one step, so the walk costs what the files hold.
				st, n, err := e.ext.mapRun(off, e.size-off)
				if err != nil {
					in.Errors = append(in.Errors, fmt.Sprintf("%s: allocation map stops at byte %d: %v", l.Path, e.start+off, err))
					break
				}
				switch st {
				case Data:
					ei.AllocatedBytes += n
				case Zero:
					ei.ZeroBytes += n
				}
				off += n
			}
			li.AllocatedBytes += ei.AllocatedBytes
			li.ZeroBytes += ei.ZeroBytes
			li.Extents = append(li.Extents, ei)
		}
		in.Chain = append(in.Chain, li)
	}
	w := &chainWalker{d: d}
	for off := int64(0); off < d.size; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := w.next(off)
		if err != nil {
			in.Errors = append(in.Errors, fmt.Sprintf("allocation map of the chain stops at byte %d: %v", off, err))
			break
		}
		switch r.State {
		case Data:
			in.AllocatedBytes += r.Length
		case Zero:
			in.ZeroBytes += r.Length
		}
		off += r.Length
	}
	return in, nil
}

func cidString(c uint32, ok bool) string {
	if !ok {
		return ""
	}
	return fmt.Sprintf("%08x", c)
}

// WriteText renders the summary for a terminal.
func (in *Info) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "disk:       %s\n", in.Path)
	fmt.Fprintf(&b, "type:       %s\n", in.CreateType)
	fmt.Fprintf(&b, "size:       %d bytes (%s)\n", in.Size, sizeString(in.Size))
	fmt.Fprintf(&b, "allocated:  %d bytes (%s) hold data in some layer; %d bytes (%s) read as zeros by design (zero grains, ZERO extents, holes of flat files)\n",
		in.AllocatedBytes, sizeString(in.AllocatedBytes), in.ZeroBytes, sizeString(in.ZeroBytes))
	if in.Encrypted {
		b.WriteString("encrypted:  yes (vSphere VM encryption): the extents hold ciphertext\n")
	}
	if in.VMSD != "" {
		fmt.Fprintf(&b, "snapshots:  %s\n", in.VMSD)
	}
	fmt.Fprintf(&b, "chain:      %d layer(s), the opened disk first\n", len(in.Chain))
	for _, l := range in.Chain {
		fmt.Fprintf(&b, "  [%d] %s\n", l.Depth, l.Path)
		fmt.Fprintf(&b, "      %s, CID %s, parentCID %s", l.CreateType, orDash(l.CID), orDash(l.ParentCID))
		if l.CIDMatchesParent != nil {
			if *l.CIDMatchesParent {
				b.WriteString(" (matches the parent)")
			} else {
				b.WriteString(" (DOES NOT MATCH the parent)")
			}
		}
		b.WriteString("\n")
		if l.ParentFileNameHint != "" {
			fmt.Fprintf(&b, "      parent hint %q\n", l.ParentFileNameHint)
		}
		for _, s := range l.Snapshots {
			fmt.Fprintf(&b, "      state at snapshot %q\n", s)
		}
		if l.ChangeTrackPath != "" {
			fmt.Fprintf(&b, "      change tracking %s\n", l.ChangeTrackPath)
		}
		fmt.Fprintf(&b, "      data %s, zero %s\n", sizeString(l.AllocatedBytes), sizeString(l.ZeroBytes))
		for _, e := range l.Extents {
			fmt.Fprintf(&b, "      extent %s\n        %s; data %s, zero %s\n", e.ExtentLine.String(), e.Format,
				sizeString(e.AllocatedBytes), sizeString(e.ZeroBytes))
		}
	}
	for _, w := range in.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	for _, e := range in.Errors {
		fmt.Fprintf(&b, "error: %s\n", e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
