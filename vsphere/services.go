package vsphere

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/custody"
)

// Errors of host service changes.
var (
	// ErrNoCustodyLog: a change was asked of a Client without a custody
	// log; nothing is changed on a host unless it is recorded.
	ErrNoCustodyLog = errors.New("refusing to change a host without a custody log to record it in")
	// ErrBadPolicy: a service policy other than on, off or automatic.
	ErrBadPolicy = errors.New("a service policy is on, off or automatic")
	// ErrNoService: the host has no such service (or no service system:
	// a disconnected host).
	ErrNoService = errors.New("no such host service")
)

// Service policies, as the API names them: on starts and stops the
// service with the host, off leaves it to be started by hand,
// automatic follows its firewall ports.
const (
	PolicyOn        = "on"
	PolicyOff       = "off"
	PolicyAutomatic = "automatic"
)

// afterTimeout bounds reading a service back and recording the change
// once the caller's context has ended: a change made must be recorded.
const afterTimeout = 30 * time.Second

// HostSSHService reads the TSM-SSH service of the host named host, as
// the host has it now (its service list is refreshed first, so that a
// change made on the host's console is seen).
func (c *Client) HostSSHService(ctx context.Context, host string) (custody.ServiceState, error) {
	ss, _, err := c.serviceSystem(ctx, host)
	if err != nil {
		return custody.ServiceState{}, err
	}
	return c.serviceState(ctx, ss, host, SSHService)
}

// StartSSH starts TSM-SSH on host. A running service is left alone:
// nothing is called and nothing recorded, and the change returned has
// After equal to Before.
func (c *Client) StartSSH(ctx context.Context, host string) (custody.ServiceChange, error) {
	return c.changeService(ctx, host, SSHService, custody.ServiceStart, "")
}

// StopSSH stops TSM-SSH on host; a stopped service is left alone.
func (c *Client) StopSSH(ctx context.Context, host string) (custody.ServiceChange, error) {
	return c.changeService(ctx, host, SSHService, custody.ServiceStop, "")
}

// SetSSHPolicy sets TSM-SSH's startup policy on host (PolicyOn, PolicyOff
// or PolicyAutomatic); a service with that policy is left alone.
func (c *Client) SetSSHPolicy(ctx context.Context, host, policy string) (custody.ServiceChange, error) {
	return c.changeService(ctx, host, SSHService, custody.ServicePolicy, policy)
}

// RestoreSSH puts TSM-SSH on host back to want, the state HostSSHService
// read before a run changed it: the policy first, then running or not.
// It returns the changes made (none when the service is as wanted).
func (c *Client) RestoreSSH(ctx context.Context, host string, want custody.ServiceState) ([]custody.ServiceChange, error) {
	var done []custody.ServiceChange
	ch, err := c.SetSSHPolicy(ctx, host, want.Policy)
	if ch.Changed() || ch.Error != "" {
		done = append(done, ch)
	}
	if err != nil {
		return done, err
	}
	action := c.StopSSH
	if want.Running {
		action = c.StartSSH
	}
	ch, err = action(ctx, host)
	if ch.Changed() || ch.Error != "" {
		done = append(done, ch)
	}
	return done, err
}

// serviceSystem finds host's service system.
func (c *Client) serviceSystem(ctx context.Context, host string) (*object.HostServiceSystem, string, error) {
	h, err := c.findHost(ctx, host, "configManager.serviceSystem")
	if err != nil {
		return nil, "", err
	}
	if h.ConfigManager.ServiceSystem == nil {
		return nil, "", fmt.Errorf("%w: host %s on %s has no service system (is it connected?)", ErrNoService, host, c.ep.addr)
	}
	return object.NewHostServiceSystem(c.vim, *h.ConfigManager.ServiceSystem), h.Self.Value, nil
}

// serviceState refreshes the host's service list and reads key's state.
func (c *Client) serviceState(ctx context.Context, ss *object.HostServiceSystem, host, key string) (custody.ServiceState, error) {
	if _, err := methods.RefreshServices(ctx, c.vim, &types.RefreshServices{This: ss.Reference()}); err != nil {
		return custody.ServiceState{}, fmt.Errorf("refresh the services of host %s on %s: %w", host, c.ep.addr, err)
	}
	services, err := ss.Service(ctx)
	if err != nil {
		return custody.ServiceState{}, fmt.Errorf("read the services of host %s on %s: %w", host, c.ep.addr, err)
	}
	st := serviceState(&types.HostServiceInfo{Service: services}, key)
	if st == nil {
		return custody.ServiceState{}, fmt.Errorf("%w %s on host %s", ErrNoService, key, host)
	}
	return *st, nil
}

// changeService makes one change to a host service, unless the service
// is already as asked, and records it with the state before and after.
func (c *Client) changeService(ctx context.Context, host, key, action, policy string) (custody.ServiceChange, error) {
	ch := custody.ServiceChange{Endpoint: c.ep.addr, Host: host, RunID: c.runID, Service: key, Action: action, Policy: policy}
	if action == custody.ServicePolicy && policy != PolicyOn && policy != PolicyOff && policy != PolicyAutomatic {
		return ch, fmt.Errorf("policy %q for %s on %s: %w", policy, key, host, ErrBadPolicy)
	}
	if c.log == nil {
		return ch, fmt.Errorf("%s %s on %s: %w", action, key, host, ErrNoCustodyLog)
	}
	ss, moref, err := c.serviceSystem(ctx, host)
	if err != nil {
		return ch, err
	}
	ch.HostMoRef = moref
	if ch.Before, err = c.serviceState(ctx, ss, host, key); err != nil {
		return ch, err
	}
	if (action == custody.ServiceStart && ch.Before.Running) || (action == custody.ServiceStop && !ch.Before.Running) ||
		(action == custody.ServicePolicy && ch.Before.Policy == policy) {
		after := ch.Before
		ch.After = &after
		return ch, nil
	}

	var callErr error
	switch action {
	case custody.ServiceStart:
		callErr = ss.Start(ctx, key)
	case custody.ServiceStop:
		callErr = ss.Stop(ctx, key)
	case custody.ServicePolicy:
		callErr = ss.UpdatePolicy(ctx, key, policy)
	}
	if callErr != nil {
		callErr = fmt.Errorf("%s %s on host %s through %s: %w", action, key, host, c.ep.addr, callErr)
		ch.Error = callErr.Error()
	}

	// The change is read back and recorded even when the caller's
	// context ended meanwhile: the host may have changed.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), afterTimeout)
	defer cancel()
	after, err := c.serviceState(actx, ss, host, key)
	if err != nil {
		ch.Error = errors.Join(callErr, fmt.Errorf("read back: %w", err)).Error()
	} else {
		ch.After = &after
	}
	c.logger.Info("host service changed", "host", host, "service", key, "action", action, "policy", policy,
		"before", ch.Before, "after", ch.After, "err", ch.Error)
	if _, err := c.log.Append(custody.TypeHostServiceChanged, ch); err != nil {
		return ch, errors.Join(callErr, fmt.Errorf("%s %s on host %s was attempted but the custody log refused its record: %w", action, key, host, err))
	}
	return ch, callErr
}
