package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/esxsink/esxsink/custody"
)

// Session is one acquisition from one host, in the order it happens: the
// caller connects (DialSSH, with its policy callbacks), OpenSession
// records the connection, Discover identifies the host and learns what it
// holds, Plan chooses what to copy, Collect copies it. A command is a
// thin layer over these steps: flags in, the session's results out.
type Session struct {
	Conn   *Conn
	Runner *Runner
	// Inventory is what Discover found (nil before).
	Inventory *Inventory
	// RunID names this run on the host (labels, snapshots, lease).
	RunID string

	log    Recorder
	user   string
	logger *slog.Logger
}

// SessionOptions says where a session records.
type SessionOptions struct {
	// Log is the case's custody log; nil records nothing (a dry run).
	Log Recorder
	// OutDir keeps each host command's full output ("" nowhere).
	OutDir string
	// User is the login name, for the records.
	User string
	// RunID names the run (default NewRunID()).
	RunID  string
	Logger *slog.Logger
}

// OpenSession starts a session on conn: the connection (address, user,
// host key) is recorded and every later command runs through a Runner
// that records it.
func OpenSession(conn *Conn, o SessionOptions) (*Session, error) {
	s := &Session{Conn: conn, RunID: o.RunID, log: o.Log, user: o.User, logger: o.Logger}
	if s.RunID == "" {
		s.RunID = NewRunID()
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.log != nil {
		if _, err := s.log.Append(custody.TypeNote, custody.Note{Text: fmt.Sprintf("connected to %s as %s, host key %s", conn.Addr(), o.User, conn.HostKeyFingerprint())}); err != nil {
			return nil, err
		}
	}
	r, err := NewRunner(conn, o.Log, o.OutDir)
	if err != nil {
		return nil, err
	}
	s.Runner = r
	return s, nil
}

// Discover learns what the host is and holds (Discover) and records the
// host's identity (host.identified).
func (s *Session) Discover(ctx context.Context) (*Inventory, error) {
	inv, err := Discover(ctx, s.Runner, s.Conn.Addr(), s.logger)
	if err != nil {
		return nil, err
	}
	s.Inventory = inv
	if s.log != nil {
		if _, err := s.log.Append(custody.TypeHostIdentified, IdentifyHost(s.Conn, s.user, inv)); err != nil {
			return nil, err
		}
	}
	return inv, nil
}

// Selection is what the examiner asked to collect.
type Selection struct {
	// VMs are vmids, names or .vmx paths (SelectVMs); All and
	// Unregistered add every registered, every unregistered VM.
	VMs               []string
	All, Unregistered bool
	// Devices are storage devices (USB disks) to copy whole, by name.
	Devices []string
}

// SelectionError says the selection names what the host does not hold
// (a VM or a device): the examiner's mistake, not the host's.
type SelectionError struct{ Err error }

func (e *SelectionError) Error() string { return e.Err.Error() }
func (e *SelectionError) Unwrap() error { return e.Err }

// ErrNoDevice: a selected storage device is not on the host.
var ErrNoDevice = errors.New("no such storage device")

// Plan chooses the files of sel from the discovered host and lists what
// the host holds that the plan does not collect. o gives the plan's other
// options (its Devices, All and Datastores come from sel and the
// inventory).
func (s *Session) Plan(sel Selection, o PlanOptions) (*Plan, error) {
	if s.Inventory == nil {
		return nil, errors.New("plan: discover the host first")
	}
	var vms []*VM
	if len(sel.VMs) > 0 || sel.All || sel.Unregistered {
		var err error
		if vms, err = SelectVMs(s.Inventory, sel.VMs, sel.All, sel.Unregistered); err != nil {
			return nil, &SelectionError{err}
		}
	}
	o.Devices = nil
	for _, id := range sel.Devices {
		dev, ok := s.Inventory.Device(id)
		if !ok {
			return nil, &SelectionError{fmt.Errorf("%w %q on %s", ErrNoDevice, id, s.Conn.Addr())}
		}
		o.Devices = append(o.Devices, dev)
	}
	o.All, o.Datastores = sel.All, s.Inventory.Datastores
	plan := MakePlan(vms, o)
	plan.NoteNotCollected(s.Inventory, o)
	return plan, nil
}

// Collect acquires plan (Collect) with the session's runner, log, host
// and run id, recording the host's clock against ours before and after.
func (s *Session) Collect(ctx context.Context, plan *Plan, o CollectOptions) (*Outcome, error) {
	o.Runner, o.Log, o.Host, o.RunID = s.Runner, s.log, s.Conn.Addr(), s.RunID
	if o.Logger == nil {
		o.Logger = s.logger
	}
	if s.log != nil {
		RecordHostClock(ctx, s.Runner, s.log, s.Conn.Addr(), s.RunID, "start")
	}
	rep, err := Collect(ctx, plan, o)
	if s.log != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		RecordHostClock(cctx, s.Runner, s.log, s.Conn.Addr(), s.RunID, "end")
		cancel()
	}
	return rep, err
}
