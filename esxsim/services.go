package esxsim

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

// The TSM-SSH service's states and startup policies, and the lockdown
// modes, as scenarios name them.
const (
	SSHRunning = "running"
	SSHStopped = "stopped"

	PolicyOn        = "on"
	PolicyOff       = "off"
	PolicyAutomatic = "automatic"

	LockdownDisabled = "disabled"
	LockdownNormal   = "normal"
	LockdownStrict   = "strict"
)

// ErrHostClosed is returned for a service change on a host that was
// closed.
var ErrHostClosed = errors.New("esxsim: host closed")

// SSHService is the state of a host's TSM-SSH service.
type SSHService struct {
	Running bool
	Policy  string
}

// sshService is the SSH daemon's switch: its address is fixed when the
// host starts, so stopping and starting it keeps the port a client knows.
type sshService struct {
	mu       sync.Mutex
	addr     net.Addr
	ln       net.Listener
	policy   string
	lockdown string
	// timeout stops the service after UserVars.ESXiShellTimeOut, as ESXi
	// does; sessions already open are left alone.
	timeout *time.Timer
}

// startService binds the SSH address; the daemon serves only when the
// scenario says it runs.
func (h *Host) startService() error {
	ln, err := net.Listen("tcp", h.cfg.Listen)
	if err != nil {
		return fmt.Errorf("esxsim: listen on %s: %w", h.cfg.Listen, err)
	}
	h.svc.mu.Lock()
	defer h.svc.mu.Unlock()
	h.svc.addr = ln.Addr()
	h.svc.policy = h.sc.Host.SSHPolicy
	h.svc.lockdown = h.sc.Host.Lockdown
	if h.sc.Host.SSH == SSHStopped {
		// The port stays known and is refused until StartSSH.
		return ln.Close()
	}
	h.serveLocked(ln)
	return nil
}

func (h *Host) serveLocked(ln net.Listener) {
	h.svc.ln = ln
	h.wg.Add(1)
	go h.acceptLoop(ln)
	if t := h.advancedInt("/UserVars/ESXiShellTimeOut"); t > 0 {
		h.svc.timeout = time.AfterFunc(time.Duration(t)*time.Second, func() {
			h.log.Info("ESXiShellTimeOut: stopping SSH", "after_seconds", t)
			h.StopSSH("ESXiShellTimeOut")
		})
	}
}

// SSH reports the TSM-SSH service's state.
func (h *Host) SSH() SSHService {
	h.svc.mu.Lock()
	defer h.svc.mu.Unlock()
	return SSHService{Running: h.svc.ln != nil, Policy: h.svc.policy}
}

// StartSSH starts the SSH daemon on the host's SSH address, as the
// vSphere API's StartService("TSM-SSH") does; by names who asks, for the
// host's footprint. Starting a running service changes nothing.
func (h *Host) StartSSH(by string) error {
	h.svc.mu.Lock()
	defer h.svc.mu.Unlock()
	if h.closed.Load() {
		return ErrHostClosed
	}
	if h.svc.addr == nil {
		return errors.New("esxsim: host not started")
	}
	if h.svc.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", h.svc.addr.String())
	if err != nil {
		return fmt.Errorf("esxsim: start SSH on %s: %w", h.svc.addr, err)
	}
	h.serveLocked(ln)
	h.serviceRecord(by, "start")
	return nil
}

// StopSSH stops the SSH daemon: new connections are refused, sessions
// already open go on (ESXi stops the listening sshd only).
func (h *Host) StopSSH(by string) error {
	h.svc.mu.Lock()
	defer h.svc.mu.Unlock()
	if h.svc.ln == nil {
		return nil
	}
	if h.svc.timeout != nil {
		h.svc.timeout.Stop()
		h.svc.timeout = nil
	}
	err := h.svc.ln.Close()
	h.svc.ln = nil
	h.serviceRecord(by, "stop")
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("esxsim: stop SSH: %w", err)
	}
	return nil
}

// SetSSHPolicy changes the service's startup policy (on, off, automatic).
func (h *Host) SetSSHPolicy(by, policy string) error {
	switch policy {
	case PolicyOn, PolicyOff, PolicyAutomatic:
	default:
		return fmt.Errorf("esxsim: ssh policy %q (want on, off or automatic)", policy)
	}
	h.svc.mu.Lock()
	defer h.svc.mu.Unlock()
	if h.svc.policy != policy {
		h.svc.policy = policy
		h.serviceRecord(by, "updatePolicy "+policy)
	}
	return nil
}

// Lockdown is the host's lockdown mode: disabled, normal or strict.
func (h *Host) Lockdown() string {
	h.svc.mu.Lock()
	defer h.svc.mu.Unlock()
	return h.svc.lockdown
}

// SetLockdown changes the lockdown mode, as HostAccessManager's
// ChangeLockdownMode does.
func (h *Host) SetLockdown(by, mode string) error {
	switch mode {
	case LockdownDisabled, LockdownNormal, LockdownStrict:
	default:
		return fmt.Errorf("esxsim: lockdown %q (want disabled, normal or strict)", mode)
	}
	h.svc.mu.Lock()
	defer h.svc.mu.Unlock()
	if h.svc.lockdown != mode {
		h.svc.lockdown = mode
		h.foot.add(Command{Time: h.now(), User: by, Remote: "api", Kind: "api", Line: "vim.host.HostAccessManager.changeLockdownMode " + mode})
		h.foot.hostdLog("Lockdown mode changed to %s by %s", mode, by)
	}
	return nil
}

// loginAllowed applies lockdown mode to an SSH login: in normal and
// strict lockdown only the exception users may log in.
func (h *Host) loginAllowed(user string) bool {
	if h.Lockdown() == LockdownDisabled {
		return true
	}
	return slices.Contains(h.sc.Host.LockdownExceptions, user)
}

// serviceRecord puts a service change in the host's footprint and
// hostd.log; callers hold svc.mu.
func (h *Host) serviceRecord(by, op string) {
	h.foot.add(Command{Time: h.now(), User: by, Remote: "api", Kind: "api", Line: "vim.host.ServiceSystem." + op + " TSM-SSH"})
	h.foot.hostdLog("Service TSM-SSH: %s by %s", op, by)
}
