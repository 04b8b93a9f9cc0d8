package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/esxsink/esxsink/esxi"
)

// A file is copied to the size it has when its copy starts, not to the
// size the inventory listed: between the two a running VM's log is
// appended to, and the delta it was writing grows until our snapshot
// freezes it. It is measured again when the copy ends, so a file that
// changed while it was read is never reported verified (verifyCopy).

// measured reports whether the copy of it is sized by stat on the host.
// A device's size is esxcli's, in whole MiB, and it is read by parts to
// its end instead (DeviceParts).
func measured(it PlanItem) bool { return !it.SizeApprox }

// sizeAtStart stats fr's source on the host right before its copy: the
// copy reads exactly fr.SizeAtStart bytes. done says the copy must not go
// on: the file failed (fr.Error), or the run stops (the error).
func (c *collector) sizeAtStart(ctx context.Context, fr *FileOutcome) (done bool, err error) {
	it := fr.Item
	if !measured(it) {
		return false, nil
	}
	st, err := c.statSource(ctx, it.Source, "before its copy")
	if err != nil {
		fr.Error = err.Error()
		return true, c.stopErr(ctx, err)
	}
	fr.SizeAtStart, fr.mtimeStart, fr.sized = st.Size, st.Mtime.Unix(), true
	if st.Size != it.Size {
		c.logger.Info("file size changed since the inventory; copying it at its size now",
			"file", it.Source, "planned", it.Size, "now", st.Size)
	}
	return false, nil
}

// sizeAtEnd stats fr's source on the host again once its copy ended.
// done and err as for sizeAtStart.
func (c *collector) sizeAtEnd(ctx context.Context, fr *FileOutcome) (done bool, err error) {
	if !measured(fr.Item) {
		return false, nil
	}
	st, err := c.statSource(ctx, fr.Item.Source, "after its copy")
	if err != nil {
		fr.Error = err.Error() + ": whether the file changed while it was copied is unknown, so it is not verified"
		return true, c.stopErr(ctx, err)
	}
	fr.SizeAtEnd, fr.mtimeEnd = st.Size, st.Mtime.Unix()
	return false, nil
}

// hostFailure is a failed command on the host: it fails one file, not the
// run.
type hostFailure struct{ error }

// statSource runs esxi.CmdStat on the host. A lost connection or a
// cancellation comes back as is; anything else as a hostFailure.
func (c *collector) statSource(ctx context.Context, src, when string) (esxi.FileStat, error) {
	cmd, err := esxi.CmdStat(src)
	if err != nil {
		return esxi.FileStat{}, hostFailure{err}
	}
	res, err := c.o.Runner.Run(ctx, cmd)
	if err != nil {
		return esxi.FileStat{}, fmt.Errorf("measure %s on %s %s: %w", src, c.o.Host, when, err)
	}
	if res.ExitStatus != 0 {
		return esxi.FileStat{}, hostFailure{fmt.Errorf("measure %s on %s %s: stat exited with status %d: %s; check that the file still exists on the host",
			src, c.o.Host, when, res.ExitStatus, clip(strings.TrimSpace(string(res.Stderr))))}
	}
	st, err := esxi.ParseStat(string(res.Stdout))
	if err != nil {
		return esxi.FileStat{}, hostFailure{fmt.Errorf("measure %s on %s %s: %w", src, c.o.Host, when, err)}
	}
	return st, nil
}

// stopErr is nil for a hostFailure (the file fails, the run goes on) and
// err for what stops the run (a lost connection, a cancellation).
func (c *collector) stopErr(ctx context.Context, err error) error {
	var hf hostFailure
	if errors.As(err, &hf) {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w (interrupted: %w)", err, ctx.Err())
	}
	return err
}

// hashCommand hashes what the copy of fr reads: the first SizeAtStart
// bytes of a measured file, the whole of a device.
func hashCommand(alg esxi.HashAlg, fr *FileOutcome) (string, error) {
	if measured(fr.Item) {
		return esxi.CmdHashPrefix(alg, fr.Item.Source, fr.SizeAtStart)
	}
	return esxi.CmdHash(alg, fr.Item.Source)
}

// sizeChange says how fr's source was not whole and unchanged through its
// copy ("" when it was): its size or mtime at the end differs from at
// the start, or what arrived is not what was measured at the start.
func sizeChange(fr FileOutcome) string {
	if !measured(fr.Item) {
		return ""
	}
	src := fr.Item.Source
	switch {
	case fr.SizeAtEnd != fr.SizeAtStart:
		return fmt.Sprintf("%s changed while copied: %d bytes before, %d after", src, fr.SizeAtStart, fr.SizeAtEnd)
	case fr.mtimeEnd != fr.mtimeStart:
		return fmt.Sprintf("%s changed while copied: %d bytes before and after, but modified at %d (seconds since 1970) before and %d after",
			src, fr.SizeAtStart, fr.mtimeStart, fr.mtimeEnd)
	case fr.Size != fr.SizeAtStart:
		return fmt.Sprintf("%s: %d bytes when its copy started, %d arrived", src, fr.SizeAtStart, fr.Size)
	}
	return ""
}

// frozenAdvice closes the message of a frozen file that changed.
const frozenAdvice = "a frozen file must not change — something on the host writes it although its VM is powered off or under our snapshot: " +
	"find out what (the host's logs, esxcli vm process list), keep this copy as found, and collect the file again"
