package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/digest"
	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/vmdk"
)

func vmdkCommand() *cli.Command {
	return &cli.Command{
		Name:  "vmdk",
		Usage: "read VMware virtual disks and snapshot chains: describe, convert to raw, verify",
		Description: `Reads every VMDK layout natively (flat/vmfs, hosted sparse, streamOptimized,
twoGbMaxExtent, COWD and seSparse snapshot deltas, raw device mappings) and follows
snapshot chains, checking each parentCID against its parent's CID.
Every extent, parent and mapped datastore must lie inside a root: the case's evidence
folder for a collected disk, else the disk's folder; --root widens it explicitly, and a
reference leaving it (../, a mapping, a symbolic link) is an error. Sizes a file declares
are checked against plausibility limits (at most 64 TiB per disk), so a damaged or forged
file fails at once, naming the file and the field.
Exit status: 0 ok, 1 a check failed or the disk is inconsistent or unreadable, 2 usage error.`,
		Subcommands: []*cli.Command{vmdkInfoCommand(), vmdkConvertCommand(), vmdkVerifyCommand()},
	}
}

// vmdkUsageError makes flag errors exit with status 2.
func vmdkUsageError(c *cli.Context, err error, isSubcommand bool) error { return usageError(err) }

// chainFlags are the flags every subcommand uses to open a chain.
func chainFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "volume", Usage: "map an ESXi datastore to the folder holding its copy, as DATASTORE=DIR (DATASTORE is the UUID or name in /vmfs/volumes/...); repeatable"},
		&cli.StringSliceFlag{Name: "rdm", Usage: "name the collected image of a raw device mapping, as EXTENT=IMAGE (EXTENT is the file name on the VMFSRDM line, e.g. disk-rdmp.vmdk); repeatable"},
		&cli.StringFlag{Name: "root", Usage: "the folder every extent, parent and mapped datastore must lie in (default: the case's evidence folder for a disk in a case, else the disk's folder); references leaving it, by ../, a mapping or a symbolic link, are errors"},
	}
}

// vmdkOptions builds vmdk.Options from the chain flags.
func vmdkOptions(c *cli.Context, ignoreCID bool) (*vmdk.Options, error) {
	o := &vmdk.Options{IgnoreCID: ignoreCID, Volumes: map[string]string{}, Root: c.String("root")}
	for _, v := range c.StringSlice("volume") {
		ds, dir, ok := strings.Cut(v, "=")
		if !ok || ds == "" || dir == "" {
			return nil, fmt.Errorf("--volume %q: want DATASTORE=DIR", v)
		}
		o.Volumes[ds] = dir
	}
	disk := c.Args().First()
	images := map[string]string{}
	caseDir, err := caseVolumes(disk, o, images)
	if err != nil {
		fmt.Fprintf(c.App.ErrWriter, "esxsink: warning: %v (map datastores with --volume)\n", err)
	}
	if o.Root == "" && caseDir != "" {
		// A collected disk may name anything of the evidence (other
		// datastores, ../ folders), and nothing else of the workstation.
		o.Root = hashlog.EvidenceDir(caseDir)
	}
	if o.Root != "" {
		if err := insideRoot(disk, o.Root); err != nil {
			return nil, err
		}
	}
	rdm := map[string]string{}
	for _, v := range c.StringSlice("rdm") {
		ext, img, ok := strings.Cut(v, "=")
		if !ok || ext == "" || img == "" {
			return nil, fmt.Errorf("--rdm %q: want EXTENT=IMAGE", v)
		}
		rdm[ext] = img
	}
	if len(rdm) > 0 || len(images) > 0 {
		o.ResolveDevice = func(r vmdk.DeviceRef) (string, error) {
			if img, ok := rdm[r.Extent.FileName]; ok {
				return img, nil
			}
			if img, ok := rdm[filepath.Base(r.Extent.FileName)]; ok {
				return img, nil
			}
			// A collected RDM: the case says where the LUN it maps is
			// imaged.
			abs, err := filepath.Abs(r.Descriptor)
			if err != nil {
				return "", err
			}
			return images[abs], nil
		}
	}
	return o, nil
}

// insideRoot checks that disk lies in root (--root).
func insideRoot(disk, root string) error {
	ad, err1 := filepath.Abs(disk)
	ar, err2 := filepath.Abs(root)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if rel, err := filepath.Rel(ar, ad); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("--root %s: %s is not inside it; the root must hold the disk opened", root, disk)
	}
	return nil
}

// caseVolumes maps, for a disk inside a collected case, every datastore
// the case's custody log records (by name and by UUID) to its folder in
// the evidence folder, so absolute /vmfs/volumes/… references resolve
// with no flags (--volume mappings given on the command line stay), and
// names the host wrote to the names the case stores them under
// (o.Rename). It fills images with where each collected RDM descriptor's
// LUN is imaged (absolute paths in the evidence folder). It returns the
// case folder, "" when the disk is not in a case.
func caseVolumes(disk string, o *vmdk.Options, images map[string]string) (string, error) {
	volumes := o.Volumes
	if disk == "" {
		return "", nil
	}
	caseDir, err := hashlog.FindCase(disk)
	if err != nil || caseDir == "" {
		return "", err
	}
	recs, _, err := hashlog.ReadLog(hashlog.LogPath(caseDir))
	if err != nil {
		return caseDir, fmt.Errorf("read the datastore table of case %s: %w", caseDir, err)
	}
	ev := hashlog.EvidenceDir(caseDir)
	for name, folder := range custody.VolumeFolders(recs) {
		if _, given := volumes[name]; !given && hashlog.CheckEvidencePath(folder) == nil {
			volumes[name] = filepath.Join(ev, filepath.FromSlash(folder))
		}
	}
	abs, err := filepath.Abs(ev)
	if err != nil {
		return caseDir, err
	}
	for desc, img := range custody.DeviceImages(recs) {
		if hashlog.CheckEvidencePath(desc) == nil && hashlog.CheckEvidencePath(img) == nil {
			images[filepath.Join(abs, filepath.FromSlash(desc))] = filepath.Join(abs, filepath.FromSlash(img))
		}
	}
	if names := custody.CollectedNames(recs); len(names) > 0 {
		o.Rename = func(p string) string {
			rel, err := filepath.Rel(abs, p)
			if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return p
			}
			return filepath.Join(abs, filepath.FromSlash(names.Translate(filepath.ToSlash(rel))))
		}
	}
	return caseDir, nil
}

// diskArg checks the DISK argument(s): a usage error when missing.
func diskArg(c *cli.Context, n int, usage string) error {
	if c.NArg() != n {
		return usageError(fmt.Errorf("usage: esxsink vmdk %s", usage))
	}
	if _, err := os.Stat(c.Args().First()); err != nil {
		return usageError(err)
	}
	return nil
}

// loadVMSD reads --vmsd, or the one .vmsd next to the disk; nil when
// there is none and none is required.
func loadVMSD(c *cli.Context, disk string, required bool) (*vmdk.VMSD, error) {
	p := c.String("vmsd")
	if p == "" {
		var err error
		if p, err = vmdk.FindVMSD(disk); err != nil {
			return nil, usageError(err)
		}
	}
	if p == "" {
		if required {
			return nil, usageError(fmt.Errorf("no .vmsd next to %s: name the snapshot database with --vmsd", disk))
		}
		return nil, nil
	}
	v, err := vmdk.ReadVMSD(p)
	if err != nil {
		if required || c.String("vmsd") != "" {
			return nil, err
		}
		fmt.Fprintf(c.App.ErrWriter, "esxsink: warning: %v (snapshot names not shown)\n", err)
		return nil, nil
	}
	return v, nil
}

func vmdkInfoCommand() *cli.Command {
	return &cli.Command{
		Name:         "info",
		OnUsageError: vmdkUsageError,
		Usage:        "describe a disk: type, size, extents, the snapshot chain with CIDs, allocated bytes",
		ArgsUsage:    "DISK.vmdk",
		Flags: append(chainFlags(),
			&cli.BoolFlag{Name: "json", Usage: "print the description as JSON"},
			&cli.StringFlag{Name: "vmsd", Usage: "snapshot database used to name the chain states (default: the .vmsd next to DISK)"},
		),
		Action: func(c *cli.Context) error {
			if err := diskArg(c, 1, "info [--json] DISK.vmdk"); err != nil {
				return err
			}
			disk := c.Args().First()
			// The chain is shown even through a CID mismatch: info marks it.
			o, err := vmdkOptions(c, true)
			if err != nil {
				return usageError(err)
			}
			v, err := loadVMSD(c, disk, false)
			if err != nil {
				return err
			}
			d, err := vmdk.Open(disk, o)
			if err != nil {
				return checkFailed(err.Error())
			}
			defer d.Close()
			in, err := d.Info(c.Context, v, o)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				err = writeJSONTo(c.App.Writer, in)
			} else {
				err = in.WriteText(c.App.Writer)
			}
			if err != nil {
				return err
			}
			if len(in.Errors) > 0 {
				return checkFailed(fmt.Sprintf("%s: %d allocation map(s) could not be read: %s", disk, len(in.Errors), in.Errors[0]))
			}
			return nil
		},
	}
}

func vmdkConvertCommand() *cli.Command {
	return &cli.Command{
		Name:         "convert",
		OnUsageError: vmdkUsageError,
		Usage:        "convert a disk (through its snapshot chain) to a sparse raw image, hashing it as it is written",
		ArgsUsage:    "DISK.vmdk OUT.raw",
		Description: `Writes the guest disk as a raw file whose holes are the unallocated and zero ranges,
and prints the MD5 and SHA-256 of the full raw stream (holes included), computed in the
same pass. By default the newest state (DISK itself) is converted; --snapshot picks the
state recorded in the .vmsd for a snapshot, --at-chain-depth the state of the N-th parent.`,
		Flags: append(chainFlags(),
			&cli.StringFlag{Name: "snapshot", Usage: "convert the disk as it was at this snapshot (display name, or UID) from the .vmsd"},
			&cli.IntFlag{Name: "at-chain-depth", Value: -1, Usage: "convert the state of the N-th layer of the chain: 0 is DISK itself, 1 its parent, ..."},
			&cli.StringFlag{Name: "vmsd", Usage: "snapshot database for --snapshot (default: the .vmsd next to DISK)"},
			&cli.BoolFlag{Name: "ignore-cid", Usage: "read through a parentCID that does not match the parent's CID (recorded as a warning)"},
			&cli.StringFlag{Name: "hash", Value: "md5,sha256", Usage: "digests of the raw output, comma-separated (md5, sha1, sha256), or none: nothing is hashed and holes are skipped, so time follows the data"},
			&cli.BoolFlag{Name: "allow-overlapping-grains", Usage: "convert a disk whose grain tables point several entries at the same stored sectors (refused by default: the shared bytes are copied to every place that names them), with a warning"},
			&cli.BoolFlag{Name: "force", Usage: "overwrite OUT.raw if it exists"},
			&cli.BoolFlag{Name: "allow-encrypted", Usage: "convert an encrypted disk's ciphertext as stored instead of refusing"},
			&cli.BoolFlag{Name: "json", Usage: "print the result (sizes, digests, warnings) as JSON"},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress on stderr"},
		),
		Action: vmdkConvert,
	}
}

func vmdkConvert(c *cli.Context) error {
	if err := diskArg(c, 2, "convert [--snapshot NAME|--at-chain-depth N] [--ignore-cid] DISK.vmdk OUT.raw"); err != nil {
		return err
	}
	disk, out := c.Args().Get(0), c.Args().Get(1)
	snap, depth := c.String("snapshot"), c.Int("at-chain-depth")
	if snap != "" && c.IsSet("at-chain-depth") {
		return usageError(errors.New("--snapshot and --at-chain-depth both pick the state: give one"))
	}
	if c.IsSet("at-chain-depth") && depth < 0 {
		return usageError(fmt.Errorf("--at-chain-depth %d: want 0 (DISK itself) or more", depth))
	}
	if _, err := os.Lstat(out); err == nil && !c.Bool("force") {
		return usageError(fmt.Errorf("%s already exists: choose another output, or overwrite it with --force", out))
	}
	algs, err := digest.Parse(c.String("hash"))
	if err != nil {
		return usageError(fmt.Errorf("--hash: %w", err))
	}
	o, err := vmdkOptions(c, c.Bool("ignore-cid"))
	if err != nil {
		return usageError(err)
	}
	var v *vmdk.VMSD
	if snap != "" {
		if v, err = loadVMSD(c, disk, true); err != nil {
			return err
		}
	}
	d, err := vmdk.Open(disk, o)
	if err != nil {
		return checkFailed(err.Error())
	}
	defer d.Close()
	state := d
	switch {
	case snap != "":
		if state, err = d.AtSnapshot(v, snap, o); err != nil {
			return checkFailed(err.Error())
		}
		defer state.Close()
	case depth >= 0:
		if state, err = d.AtDepth(depth); err != nil {
			return usageError(err)
		}
	}
	errw := c.App.ErrWriter
	for _, w := range d.Warnings {
		fmt.Fprintf(errw, "esxsink: warning: %s\n", w)
	}
	if state != d {
		fmt.Fprintf(errw, "esxsink: converting the state held by %s (%d layer(s))\n", state.Layers[0].Path, len(state.Layers))
	}
	opts := vmdk.ConvertOptions{Hashes: algs, Overwrite: c.Bool("force"), AllowEncrypted: c.Bool("allow-encrypted"), AllowOverlaps: c.Bool("allow-overlapping-grains")}
	if !c.Bool("quiet") {
		p := newProgress(errw, out)
		opts.Progress = p.update
		defer p.finish()
	}
	res, err := vmdk.Convert(c.Context, state, out, opts)
	if err != nil {
		if errors.Is(err, vmdk.ErrEncrypted) {
			return usageError(err)
		}
		return checkFailed(err.Error())
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(errw, "esxsink: warning: %s\n", w)
	}
	if c.Bool("json") {
		res.Warnings = append(slices.Clone(d.Warnings), res.Warnings...)
		return writeJSONTo(c.App.Writer, struct {
			*vmdk.ConvertResult
			Source string `json:"source"`
		}{res, state.Layers[0].Path})
	}
	w := c.App.Writer
	fmt.Fprintf(w, "wrote %s: %d bytes (%s): %s data, %s left as holes\n", out, res.Size, humanBytes(res.Size), humanBytes(res.DataBytes), humanBytes(res.HoleBytes))
	for _, a := range algs {
		fmt.Fprintf(w, "%-7s %s  %s\n", a, res.Digest.Sums[a], out)
	}
	if len(algs) == 0 {
		fmt.Fprintf(w, "no digests computed (--hash none): hash %s yourself before relying on it\n", out)
	}
	return nil
}

func vmdkVerifyCommand() *cli.Command {
	return &cli.Command{
		Name:         "verify",
		OnUsageError: vmdkUsageError,
		Usage:        "walk every descriptor, header, grain directory and grain table of a disk and its chain, and report every inconsistency",
		ArgsUsage:    "DISK.vmdk",
		Description: `Reports out-of-range offsets, overlapping grains, bad stream markers, damaged
compressed grains, redundant tables out of sync, CID mismatches and missing files,
without stopping at the first. Exit status 1 when any error-level finding is made.`,
		Flags: append(chainFlags(),
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		),
		Action: func(c *cli.Context) error {
			if err := diskArg(c, 1, "verify [--json] DISK.vmdk"); err != nil {
				return err
			}
			o, err := vmdkOptions(c, false)
			if err != nil {
				return usageError(err)
			}
			rep, err := vmdk.Verify(c.Context, c.Args().First(), o)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				err = writeJSONTo(c.App.Writer, rep)
			} else {
				err = rep.WriteText(c.App.Writer)
			}
			if err != nil {
				return err
			}
			if !rep.OK() {
				return checkFailed(fmt.Sprintf("%s is inconsistent: %d error(s)", c.Args().First(), rep.Errors()))
			}
			return nil
		},
	}
}

// progress prints conversion progress on stderr: one rewritten line on a
// terminal, a plain line every few seconds otherwise (logs, CI).
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	name     string
	tty      bool
	start    time.Time
	last     time.Time
	done     int64
	total    int64
	finished bool
}

func newProgress(w io.Writer, name string) *progress {
	p := &progress{w: w, name: name, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total = done, total
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	if now := time.Now(); now.Sub(p.last) >= every || done == total {
		p.last = now
		p.print()
	}
}

func (p *progress) print() {
	pct := 100.0
	if p.total > 0 {
		pct = float64(p.done) * 100 / float64(p.total)
	}
	secs := time.Since(p.start).Seconds()
	rate := ""
	if secs > 0 {
		rate = fmt.Sprintf(", %s/s", humanBytes(int64(float64(p.done)/secs)))
	}
	line := fmt.Sprintf("%s: %5.1f%% of %s%s", p.name, pct, humanBytes(p.total), rate)
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && !p.finished && !p.last.IsZero() {
		fmt.Fprintln(p.w)
	}
	p.finished = true
}
