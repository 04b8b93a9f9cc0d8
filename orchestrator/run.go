package orchestrator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/esxsink/esxsink/custody"

	"golang.org/x/crypto/ssh"

	"github.com/esxsink/esxsink/internal/durable"
)

// CommandResult is what a command produced.
type CommandResult struct {
	Command    string
	Stdout     []byte
	Stderr     []byte
	ExitStatus int // -1 when it did not finish (cancelled, connection lost)
	Started    time.Time
	Duration   time.Duration
	// Seq and StdoutFile are the Runner's command.run record number and
	// where it kept stdout (relative to the case), for records that
	// refer to this output.
	Seq        int64
	StdoutFile string
}

// ErrCommandTimeout means a command was stopped because its context ended.
var ErrCommandTimeout = errors.New("command stopped: deadline or cancellation")

// maxCapture bounds the output kept in memory and on disk per command:
// everything the orchestrator runs answers in kilobytes; a command that
// floods is cut, and its hash covers what was kept.
const maxCapture = 64 << 20

// Recorder is the custody log (a *hashlog.Log).
type Recorder interface {
	Append(typ string, data any) (custody.Record, error)
}

// Runner runs commands on the host and records each one: the exact
// command line, exit status, duration, and the SHA-256 of stdout and
// stderr, which are kept in the case folder.
type Runner struct {
	conn   *Conn
	log    Recorder
	outDir string // CASE/host-commands[/<host>]; "" keeps nothing on disk
	// outRel is outDir relative to the case folder, slash-separated: the
	// kept outputs are named so in the records.
	outRel string
	mu     sync.Mutex
	seq    int64
}

// NewRunner records into log and keeps outputs under outDir. Numbering
// goes on after the outputs an earlier run of the same case kept there.
func NewRunner(conn *Conn, log Recorder, outDir string) (*Runner, error) {
	r := &Runner{conn: conn, log: log, outDir: outDir, outRel: caseRelative(outDir)}
	if outDir != "" {
		if err := os.MkdirAll(outDir, 0o750); err != nil {
			return nil, fmt.Errorf("create command output folder: %w", err)
		}
		entries, err := os.ReadDir(outDir)
		if err != nil {
			return nil, fmt.Errorf("read command output folder: %w", err)
		}
		for _, e := range entries {
			num, _, ok := strings.Cut(e.Name(), ".")
			if n, err := strconv.ParseInt(num, 10, 64); ok && err == nil && n > r.seq {
				r.seq = n
			}
		}
	}
	return r, nil
}

// HostCommandsFolder is the case's folder of the commands' outputs: a
// single host's directly in it, each host of a fleet run's in a folder
// of its own.
const HostCommandsFolder = "host-commands"

// caseRelative is the part of outDir from HostCommandsFolder on (its
// last element when it has none), as records name it.
func caseRelative(outDir string) string {
	parts := strings.Split(filepath.ToSlash(filepath.Clean(outDir)), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if parts[i] == HostCommandsFolder {
			return strings.Join(parts[i:], "/")
		}
	}
	return parts[len(parts)-1]
}

// Run runs cmd in a new session and waits for it. A non-zero exit status
// is not an error: callers judge it. The error is for what prevented the
// command from completing (lost connection, cancellation).
func (r *Runner) Run(ctx context.Context, cmd string) (*CommandResult, error) {
	conn := r.Conn()
	res, runErr := conn.run(ctx, cmd)
	r.mu.Lock()
	r.seq++
	seq := r.seq
	r.mu.Unlock()
	rec := custody.CommandRun{
		Seq: seq, Host: conn.Addr(), Command: cmd, ExitStatus: res.ExitStatus,
		Started: res.Started.UTC().Format(time.RFC3339Nano), DurationSec: res.Duration.Seconds(),
		StdoutSHA256: sha256Hex(res.Stdout), StderrSHA256: sha256Hex(res.Stderr),
		StdoutBytes: int64(len(res.Stdout)), StderrBytes: int64(len(res.Stderr)),
	}
	if runErr != nil {
		rec.Error = runErr.Error()
	}
	defer func() { res.Seq, res.StdoutFile = seq, rec.StdoutFile }()
	if r.outDir != "" {
		for _, o := range []struct {
			data []byte
			ext  string
			name *string
		}{{res.Stdout, "stdout", &rec.StdoutFile}, {res.Stderr, "stderr", &rec.StderrFile}} {
			name := fmt.Sprintf("%05d.%s", seq, o.ext)
			if err := durable.WriteFile(filepath.Join(r.outDir, name), o.data); err != nil {
				runErr = errors.Join(runErr, fmt.Errorf("keep output of %q: %w", cmd, err))
				continue
			}
			*o.name = r.outRel + "/" + name
		}
	}
	if r.log != nil {
		if _, err := r.log.Append(custody.TypeCommandRun, rec); err != nil {
			return res, errors.Join(runErr, fmt.Errorf("record command in custody log: %w", err))
		}
	}
	return res, runErr
}

// Conn is the connection commands run on.
func (r *Runner) Conn() *Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conn
}

// SetConn replaces a lost connection; numbering and recording go on.
func (r *Runner) SetConn(conn *Conn) {
	r.mu.Lock()
	r.conn = conn
	r.mu.Unlock()
}

// Lost reports why the runner's connection ended, or nil while it is up.
func (r *Runner) Lost() error { return r.Conn().Lost() }

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// run executes one command in its own session.
func (c *Conn) run(ctx context.Context, cmd string) (*CommandResult, error) {
	res := &CommandResult{Command: cmd, ExitStatus: -1, Started: time.Now()}
	defer func() { res.Duration = time.Since(res.Started) }()
	if err := c.Lost(); err != nil {
		return res, err
	}
	sess, err := c.client.NewSession()
	if err != nil {
		if lost := c.Lost(); lost != nil {
			return res, lost
		}
		return res, fmt.Errorf("ssh session on %s: %w", c.addr, err)
	}
	defer sess.Close()
	var stdout, stderr cappedBuffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	if err := sess.Start(cmd); err != nil {
		return res, fmt.Errorf("start %q on %s: %w", cmd, c.addr, err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// Not waiting for the remote process: a host that ignores the
		// signal would hold us as long as the command runs.
		sess.Signal(ssh.SIGKILL)
		sess.Close()
		res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
		return res, fmt.Errorf("%w: %q on %s: %v", ErrCommandTimeout, cmd, c.addr, ctx.Err())
	case <-c.done:
		sess.Close()
		res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
		return res, c.Lost()
	}
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	var ee *ssh.ExitError
	switch {
	case err == nil:
		res.ExitStatus = 0
	case errors.As(err, &ee):
		res.ExitStatus = ee.ExitStatus()
		if ee.Signal() != "" {
			res.ExitStatus = -1
			return res, fmt.Errorf("%q on %s killed by signal %s", cmd, c.addr, ee.Signal())
		}
	default:
		var missing *ssh.ExitMissingError
		if errors.As(err, &missing) {
			if lost := c.Lost(); lost != nil {
				return res, lost
			}
		}
		return res, fmt.Errorf("%q on %s: %w", cmd, c.addr, err)
	}
	return res, nil
}

// cappedBuffer keeps at most maxCapture bytes.
type cappedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxCapture - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *cappedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

var _ io.Writer = (*cappedBuffer)(nil)
