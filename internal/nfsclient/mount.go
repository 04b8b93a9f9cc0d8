package nfsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/esxsink/esxsink/internal/xdr"
)

// MOUNT v3 procedures.
const (
	mountVers     = 3
	mountProcNull = 0
	mountProcMnt  = 1
	mountProcUmnt = 3
	mountProcExp  = 5
	maxPath       = 1024
)

// MountStatus is a failing MOUNT v3 status (mountstat3).
type MountStatus uint32

// MOUNT v3 statuses.
const (
	MntErrPerm        MountStatus = 1
	MntErrNoEnt       MountStatus = 2
	MntErrIO          MountStatus = 5
	MntErrAcces       MountStatus = 13
	MntErrNotDir      MountStatus = 20
	MntErrInval       MountStatus = 22
	MntErrNameTooLong MountStatus = 63
	MntErrNotSupp     MountStatus = 10004
	MntErrServerFault MountStatus = 10006
)

func (s MountStatus) Error() string {
	switch s {
	case MntErrPerm:
		return "MNT3ERR_PERM"
	case MntErrNoEnt:
		return "MNT3ERR_NOENT"
	case MntErrIO:
		return "MNT3ERR_IO"
	case MntErrAcces:
		return "MNT3ERR_ACCES"
	case MntErrNotDir:
		return "MNT3ERR_NOTDIR"
	case MntErrInval:
		return "MNT3ERR_INVAL"
	case MntErrNameTooLong:
		return "MNT3ERR_NAMETOOLONG"
	case MntErrNotSupp:
		return "MNT3ERR_NOTSUPP"
	case MntErrServerFault:
		return "MNT3ERR_SERVERFAULT"
	}
	return fmt.Sprintf("MNT3ERR_%d", uint32(s))
}

// Export is one entry of the server's export list.
type Export struct {
	Dir    string
	Groups []string
}

// Mnt asks mountd on this connection for the root handle of path.
func (c *Conn) Mnt(ctx context.Context, path string) (FileHandle, error) {
	e := &xdr.Encoder{}
	e.String(path)
	d, err := c.Call(ctx, ProgMount, mountVers, mountProcMnt, e.Bytes())
	if err != nil {
		return nil, fmt.Errorf("MOUNT MNT %s: %w", path, err)
	}
	if st := u32(d); st != 0 {
		return nil, fmt.Errorf("MOUNT MNT %s: %w", path, MountStatus(st))
	}
	fh := clone(opaque(d, MaxFileHandle))
	if d.Err() != nil {
		return nil, fmt.Errorf("MOUNT MNT %s: %w", path, d.Err())
	}
	return fh, nil
}

// Umnt tells mountd the client no longer uses path.
func (c *Conn) Umnt(ctx context.Context, path string) error {
	e := &xdr.Encoder{}
	e.String(path)
	if _, err := c.Call(ctx, ProgMount, mountVers, mountProcUmnt, e.Bytes()); err != nil {
		return fmt.Errorf("MOUNT UMNT %s: %w", path, err)
	}
	return nil
}

// Exports lists the server's exports (MOUNT EXPORT, what showmount -e
// shows).
func (c *Conn) Exports(ctx context.Context) ([]Export, error) {
	d, err := c.Call(ctx, ProgMount, mountVers, mountProcExp, nil)
	if err != nil {
		return nil, fmt.Errorf("MOUNT EXPORT: %w", err)
	}
	var out []Export
	for boolean(d) {
		x := Export{Dir: str(d, maxPath)}
		for boolean(d) {
			x.Groups = append(x.Groups, str(d, 255))
		}
		out = append(out, x)
		if len(out) > 4096 {
			return nil, errors.New("MOUNT EXPORT: export list too long")
		}
	}
	if d.Err() != nil {
		return nil, fmt.Errorf("MOUNT EXPORT: %w", d.Err())
	}
	return out, nil
}

// MountOptions say where to find mountd and nfsd. Zero ports are asked
// of the portmapper, as ESXi does.
type MountOptions struct {
	// PortmapPort is the portmapper's TCP port (default 111).
	PortmapPort int
	// MountPort and NFSPort skip the portmapper when set.
	MountPort int
	NFSPort   int
	Auth      Auth
	// LocalAddr, when set, is the IP address the connections come from
	// (a simulated host binds its own address, so that a server's
	// allow-list sees which host mounts it); empty: the system chooses.
	LocalAddr string
}

// Stage names the step of a mount that failed.
type Stage string

// Mount stages, in order.
const (
	StagePortmap Stage = "portmap" // reaching the portmapper or mountd's port lookup
	StageMountd  Stage = "mountd"  // connecting to mountd
	StageMnt     Stage = "mnt"     // the MNT call
	StageNFS     Stage = "nfs"     // reaching nfsd, FSINFO or GETATTR on the root
)

// MountError says which stage of MountExport failed.
type MountError struct {
	Host, Export string
	Stage        Stage
	Err          error
}

func (e *MountError) Error() string {
	return fmt.Sprintf("mount %s:%s: %s: %v", e.Host, e.Export, e.Stage, e.Err)
}

func (e *MountError) Unwrap() error { return e.Err }

// Mount is a mounted export: an NFS client and the export's root handle.
type Mount struct {
	*Client
	Host, Export string
	Root         FileHandle
	Info         FSInfo
	mountd       *Conn // nil when mountd shares the NFS connection
}

// MountExport mounts export on host the way ESXi does: it finds mountd
// v3/TCP (and nfsd v3/TCP) through the portmapper, MNTs the export, then
// checks the root with FSINFO and GETATTR over one NFS connection.
func MountExport(ctx context.Context, host, export string, o MountOptions) (*Mount, error) {
	fail := func(st Stage, err error) (*Mount, error) {
		return nil, &MountError{Host: host, Export: export, Stage: st, Err: err}
	}
	pmPort := o.PortmapPort
	if pmPort == 0 {
		pmPort = 111
	}
	mountPort, nfsPort := o.MountPort, o.NFSPort
	if mountPort == 0 || nfsPort == 0 {
		pm, err := DialFrom(ctx, o.LocalAddr, net.JoinHostPort(host, strconv.Itoa(pmPort)), Auth{})
		if err != nil {
			return fail(StagePortmap, err)
		}
		if mountPort == 0 {
			if mountPort, err = pm.GetPort(ctx, ProgMount, mountVers); err != nil {
				pm.Close()
				return fail(StagePortmap, err)
			}
		}
		if nfsPort == 0 {
			if nfsPort, err = pm.GetPort(ctx, ProgNFS, 3); err != nil {
				pm.Close()
				return fail(StageNFS, err)
			}
		}
		pm.Close()
	}
	md, err := DialFrom(ctx, o.LocalAddr, net.JoinHostPort(host, strconv.Itoa(mountPort)), o.Auth)
	if err != nil {
		return fail(StageMountd, err)
	}
	root, err := md.Mnt(ctx, export)
	if err != nil {
		md.Close()
		return fail(StageMnt, err)
	}
	m := &Mount{Host: host, Export: export, Root: root}
	if nfsPort == mountPort {
		m.Client = NewClient(md)
	} else {
		nc, err := DialFrom(ctx, o.LocalAddr, net.JoinHostPort(host, strconv.Itoa(nfsPort)), o.Auth)
		if err != nil {
			md.Umnt(ctx, export)
			md.Close()
			return fail(StageNFS, err)
		}
		m.Client, m.mountd = NewClient(nc), md
	}
	info, err := m.FSInfo(ctx, root)
	if err == nil {
		_, err = m.Getattr(ctx, root)
	}
	if err != nil {
		m.Unmount(ctx)
		return fail(StageNFS, err)
	}
	m.Info = info
	return m, nil
}

// Unmount sends UMNT and closes the connections.
func (m *Mount) Unmount(ctx context.Context) error {
	md := m.mountd
	if md == nil {
		md = m.Conn
	}
	err := md.Umnt(ctx, m.Export)
	m.Conn.Close()
	if m.mountd != nil {
		m.mountd.Close()
	}
	return err
}
