package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/esxsink/esxsink/custody"

	"github.com/pkg/sftp"

	"github.com/esxsink/esxsink/esxi"
)

// Transports for CollectOptions.Transport.
const (
	// TransportNFS mounts the sink on the host and copies with dd | tee |
	// md5sum: one read of the source, unreadable sectors zero-filled.
	TransportNFS = "nfs"
	// TransportSFTP reads each file with the host's sftp-server over the
	// SSH connection and streams it into the sink, for hosts that may not
	// mount NFS and workstations that cannot bind 111/2049. The host's
	// hashes come from md5sum/sha256sum in separate sessions, as in the
	// manual SFTP procedure: the source is read once per hash and once
	// for the stream.
	TransportSFTP = "sftp"
)

// StreamSink is a Sink that also takes a file as a stream (a
// *nfssink.Sink): the SFTP transport needs it.
type StreamSink interface {
	Sink
	// Receive creates rel and writes r into it, hashing on arrival; from
	// names the sender in the custody log.
	Receive(ctx context.Context, rel, from string, r io.Reader) (int64, error)
}

// connHolder gives the SFTP transport the SSH connection (a *Runner).
type connHolder interface{ Conn() *Conn }

// ErrNoSFTP: the host did not open an SFTP session.
var ErrNoSFTP = errors.New("open an SFTP session")

// sftpHint closes every SFTP read failure: what NFS does differently.
const sftpHint = "SFTP cannot skip unreadable sectors: the NFS transport (dd conv=noerror,sync) copies around them, " +
	"zero-filling each unreadable block at its offset and recording it; collect this file with --transport nfs"

// startSFTP takes the place of the mount: it checks that the host serves
// SFTP before anything is copied and records which transport the run uses.
func (c *collector) startSFTP(ctx context.Context, t sftpTransport) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cl, err := c.openSFTP(t)
	if err != nil {
		return c.fail(custody.TypeCleanupFailed, err)
	}
	cl.Close()
	c.record(custody.TypeAcquisitionNote, custody.Step{Note: "transport sftp: the sink is not mounted on the host; each file is read by the host's sftp-server " +
		"over the SSH connection and hashed by the sink as it arrives; the host's hashes come from md5sum/sha256sum run in separate " +
		"sessions (command.run records), so the host reads each source once more per hash"})
	return nil
}

// openSFTP starts an SFTP session on the runner's current connection.
func (c *collector) openSFTP(t sftpTransport) (*sftp.Client, error) {
	conn := t.conns.Conn()
	if err := conn.Lost(); err != nil {
		return nil, err
	}
	cl, err := sftp.NewClient(conn.SSHClient())
	if err != nil {
		if lost := conn.Lost(); lost != nil {
			return nil, lost
		}
		return nil, fmt.Errorf("%w on %s: %w: check that the host's SSH server offers the sftp subsystem, or copy over NFS", ErrNoSFTP, c.o.Host, err)
	}
	return cl, nil
}

// sourceReader keeps the source's own read error, to tell a failing disk
// from a failing sink.
type sourceReader struct {
	r   io.Reader
	n   int64
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// hostHash is one hash command's outcome.
type hostHash struct {
	alg esxi.HashAlg
	cmd string
	res *CommandResult
	err error
}

// copyOnceSFTP streams it.Source into the sink over SFTP while the host
// hashes the same source in sessions of its own, then verifies as every
// copy does (verifyCopy).
func (c *collector) copyOnceSFTP(ctx context.Context, t sftpTransport, it PlanItem) (FileOutcome, error) {
	fr := FileOutcome{Item: it, Dest: it.Dest}
	if !c.clearDest(&fr) {
		return fr, nil
	}
	hashes := c.hostHashAlgs()
	if done, err := c.sizeAtStart(ctx, &fr); done {
		return fr, err
	}
	// The SFTP copy reads plainly (a read error fails it): so does its
	// first pass.
	if done, err := c.firstPass(ctx, &fr, func() (string, error) { return hashCommand(esxi.MD5, &fr) }); done {
		return fr, err
	}
	cmds := make([]hostHash, len(hashes))
	for i, a := range hashes {
		cmd, err := hashCommand(a, &fr)
		if err != nil {
			fr.Error = err.Error()
			return fr, nil
		}
		cmds[i] = hostHash{alg: a, cmd: cmd}
	}
	cl, err := c.openSFTP(t)
	if err != nil {
		fr.Error = err.Error()
		return fr, fmt.Errorf("copy %s from %s: %w", it.Source, c.o.Host, err)
	}
	defer cl.Close()
	src, err := cl.Open(it.Source)
	if err != nil {
		fr.Error = fmt.Sprintf("open %s over SFTP: %v", it.Source, err)
		return fr, c.lostOrNil(ctx, t, it)
	}
	defer src.Close()

	// The host's hashes run while the stream flows, each in its own
	// session; a sink-side failure stops them, a source failure lets them
	// reach it and report it in their own words.
	hctx, stopHashes := context.WithCancel(ctx)
	defer stopHashes()
	var wg sync.WaitGroup
	for i := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmds[i].res, cmds[i].err = c.o.Runner.Run(hctx, cmds[i].cmd)
		}()
	}
	// WriteTo keeps many reads in flight and delivers them in order;
	// plain Reads would stall the pipeline at each buffer's end.
	pr, pw := io.Pipe()
	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		var w io.Writer = pw
		if measured(it) {
			// The stream ends at the size measured before it, as the
			// host's hashes do (head -c): a file that grows meanwhile
			// is copied as it was when its copy started.
			w = &limitWriter{w: pw, n: fr.SizeAtStart}
		}
		_, err := src.WriteTo(w)
		if errors.Is(err, errLimitReached) {
			err = nil
		}
		pw.CloseWithError(err)
	}()
	rd := &sourceReader{r: pr}
	from := fmt.Sprintf("sftp %s %s", c.o.Host, it.Source)
	n, recvErr := t.sink.Receive(ctx, fr.Dest, from, rd)
	pr.CloseWithError(errors.New("the sink stopped receiving"))
	<-pumped
	if recvErr != nil && rd.err == nil {
		stopHashes()
	}
	wg.Wait()

	if recvErr != nil {
		if err := c.lostOrNil(ctx, t, it); err != nil {
			fr.Error = recvErr.Error()
			return fr, err
		}
		if rd.err == nil {
			fr.Error = fmt.Sprintf("receive %s into the sink: %v", it.Source, recvErr)
			c.closePartial(fr.Dest, "sink failed during the sftp stream")
			return fr, nil
		}
		fr.Error = fmt.Sprintf("read of %s over SFTP failed after %d bytes: %v; %s; %s", it.Source, n, rd.err, hostHashFailures(cmds), sftpHint)
		c.closePartial(fr.Dest, "sftp read failed")
		return fr, nil
	}
	if done, err := c.sizeAtEnd(ctx, &fr); done {
		c.closePartial(fr.Dest, "stat after the copy failed")
		return fr, err
	}
	fr.HostHashes = map[string]string{}
	var used []esxi.HashAlg
	for _, h := range cmds {
		if h.err != nil {
			fr.Error = fmt.Sprintf("hash %s on %s: %v", it.Source, c.o.Host, h.err)
			c.closePartial(fr.Dest, "host hash failed")
			return fr, c.lostOrNil(ctx, t, it)
		}
		if h.res.ExitStatus != 0 {
			msg := strings.TrimSpace(string(h.res.Stderr))
			if h.alg != esxi.MD5 && errors.Is(esxi.Classify(msg), esxi.ErrCommandNotFound) {
				c.dropToMD5(msg)
				continue
			}
			fr.Error = fmt.Sprintf("%s on the host exited with status %d: %s; %s", h.cmd, h.res.ExitStatus, clip(msg), sftpHint)
			c.closePartial(fr.Dest, "host hash failed")
			return fr, nil
		}
		v, err := esxi.ParseHash(string(h.res.Stdout), h.alg)
		if err != nil {
			fr.Error = fmt.Sprintf("read the host's %s of %s: %v", h.alg, it.Source, err)
			c.closePartial(fr.Dest, "host hash unreadable")
			return fr, nil
		}
		fr.HostHashes[string(h.alg)] = v
		used = append(used, h.alg)
	}
	return c.verifyCopy(ctx, fr, used), nil
}

// errLimitReached stops a stream at the size measured before it.
var errLimitReached = errors.New("the measured size was reached")

// limitWriter passes the first n bytes written to w and then fails with
// errLimitReached.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= l.n {
		n, err := l.w.Write(p)
		l.n -= int64(n)
		return n, err
	}
	if l.n == 0 {
		return 0, errLimitReached
	}
	n, err := l.w.Write(p[:l.n])
	l.n -= int64(n)
	if err == nil {
		err = errLimitReached
	}
	return n, err
}

// hostHashFailures describes how the host's hash commands ended, for the
// message of a failed read.
func hostHashFailures(cmds []hostHash) string {
	var parts []string
	for _, h := range cmds {
		switch {
		case h.err != nil:
			parts = append(parts, fmt.Sprintf("the host's %s did not finish (%v)", h.alg.Tool(), h.err))
		case h.res.ExitStatus != 0:
			parts = append(parts, fmt.Sprintf("the host's %s failed too (exit %d: %s)", h.alg.Tool(), h.res.ExitStatus, clip(strings.TrimSpace(string(h.res.Stderr)))))
		default:
			// Not proof the source is readable: a hash over a truncated
			// stream also exits 0.
			parts = append(parts, fmt.Sprintf("the host's %s exited with status 0", h.alg.Tool()))
		}
	}
	return strings.Join(parts, "; ")
}

// lostOrNil turns a lost connection or a cancellation into the error that
// stops the run; other failures stay with the file.
func (c *collector) lostOrNil(ctx context.Context, t sftpTransport, it PlanItem) error {
	if ctx.Err() != nil {
		return fmt.Errorf("copy %s from %s over SFTP interrupted: %w", it.Source, c.o.Host, ctx.Err())
	}
	if lost := t.conns.Conn().Lost(); lost != nil {
		return fmt.Errorf("copy %s from %s over SFTP: %w", it.Source, c.o.Host, lost)
	}
	return nil
}

// closePartial finalizes what a failed stream left, so the custody log
// says what arrived (the file itself does not verify).
func (c *collector) closePartial(dest, reason string) {
	if _, err := c.o.Sink.Finalize(context.Background(), dest, reason, -1, false); err != nil {
		c.logger.Warn("finalize a partial sftp copy", "file", dest, "err", err)
	}
}

// hostHashAlgs is what the host hashes (md5 and sha256 until a host
// lacking sha256sum drops it to md5).
func (c *collector) hostHashAlgs() []esxi.HashAlg {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hashes == nil {
		c.hashes = slices.Clone(c.o.HostHashes)
	}
	return c.hashes
}

// dropToMD5 stops asking the host for hashes beyond md5, once.
func (c *collector) dropToMD5(stderr string) {
	c.mu.Lock()
	first := len(c.hashes) > 1
	c.hashes = fallbackHashes
	c.mu.Unlock()
	if first {
		c.record(custody.TypeAcquisitionNote, custody.Step{Note: "the host lacks a hash tool (" + clip(stderr) + "): the host computes md5 only; the sink still computes all its hashes"})
	}
}
