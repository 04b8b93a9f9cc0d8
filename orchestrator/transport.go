package orchestrator

import (
	"context"
	"errors"
	"fmt"
)

// transport is how files travel from the host into the sink. A run
// chooses it once (newTransport, from CollectOptions.Transport); the rest
// of the run asks it, never the option's name.
type transport interface {
	// attach makes the sink reachable from the host before the first
	// copy: NFS mounts it and proves it writable, SFTP checks that the
	// host serves SFTP.
	attach(ctx context.Context, c *collector) error
	// detach undoes attach at the end of the run (nothing for SFTP).
	detach(ctx context.Context, c *collector) error
	// copyOnce copies one file into it.Dest and judges it (verifyCopy).
	copyOnce(ctx context.Context, c *collector, it PlanItem) (FileOutcome, error)
	// zeroFills reports that an unreadable block becomes zeros at its
	// offset and the copy goes on (dd conv=noerror,sync), so a rescue
	// can find the unreadable sectors; otherwise a read error fails the
	// copy.
	zeroFills() bool
	// canLoseSink reports that the host may lose the sink under a copy
	// and mount it again (recoverSink).
	canLoseSink() bool
}

// newTransport chooses the transport o names ("" is NFS) and checks
// that o has what it needs.
func newTransport(o *CollectOptions) (transport, error) {
	switch o.Transport {
	case "", TransportNFS:
		o.Transport = TransportNFS
		if o.SinkHost == "" {
			return nil, errors.New("collect: the nfs transport needs the address the host mounts the sink from (SinkHost)")
		}
		return nfsTransport{}, nil
	case TransportSFTP:
		sink, ok := o.Sink.(StreamSink)
		if o.Sink != nil && !ok {
			return nil, errors.New("collect: the sftp transport needs a sink that receives streams (the embedded sink); a sink reached through its control API only takes NFS")
		}
		conns, ok := o.Runner.(connHolder)
		if o.Runner != nil && !ok {
			return nil, errors.New("collect: the sftp transport needs the SSH connection itself (a *Runner) to open SFTP sessions on it")
		}
		return sftpTransport{sink: sink, conns: conns}, nil
	}
	return nil, fmt.Errorf("collect: unknown transport %q: choose nfs or sftp", o.Transport)
}

// nfsTransport mounts the sink on the host (esxcfg-nas) and copies with
// dd | tee | md5sum onto the mount.
type nfsTransport struct{}

func (nfsTransport) attach(ctx context.Context, c *collector) error { return c.mount(ctx) }

func (nfsTransport) detach(ctx context.Context, c *collector) error { return c.unmount(ctx) }

func (nfsTransport) copyOnce(ctx context.Context, c *collector, it PlanItem) (FileOutcome, error) {
	return c.copyOnceNFS(ctx, it)
}

func (nfsTransport) zeroFills() bool   { return true }
func (nfsTransport) canLoseSink() bool { return true }

// sftpTransport streams each file over the SSH connection's SFTP
// subsystem into the sink; nothing is mounted on the host.
type sftpTransport struct {
	sink  StreamSink
	conns connHolder
}

func (t sftpTransport) attach(ctx context.Context, c *collector) error { return c.startSFTP(ctx, t) }

func (sftpTransport) detach(context.Context, *collector) error { return nil }

func (t sftpTransport) copyOnce(ctx context.Context, c *collector, it PlanItem) (FileOutcome, error) {
	return c.copyOnceSFTP(ctx, t, it)
}

func (sftpTransport) zeroFills() bool   { return false }
func (sftpTransport) canLoseSink() bool { return false }
