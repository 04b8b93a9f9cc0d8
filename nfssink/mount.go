package nfssink

import (
	"path"
	"slices"
	"strings"

	"github.com/esxsink/esxsink/custody"
)

// MOUNT v3 procedures (RFC 1813 Appendix I).
const (
	mountProcNull    = 0
	mountProcMnt     = 1
	mountProcDump    = 2
	mountProcUmnt    = 3
	mountProcUmntAll = 4
	mountProcExport  = 5

	mnt3OK       = 0
	mnt3ErrNoEnt = 2
	mnt3ErrAcces = 13

	maxMountPath = 1024
)

// mountEntry is one client's mount, as MOUNT DUMP reports it.
type mountEntry struct {
	client string
	dir    string
}

// mountCall answers every MOUNT procedure: go-nfs lacks EXPORT and DUMP,
// and owning MNT keeps the export and allow-list policy in one place.
func (c *conn) mountCall(h callHeader, args *xdrReader) *xdrWriter {
	s := c.s
	switch h.proc {
	case mountProcNull:
		return newReply(h.xid, acceptSuccess)
	case mountProcMnt:
		dir, err := args.String(maxMountPath)
		if err != nil {
			return newReply(h.xid, acceptGarbageArgs)
		}
		w := newReply(h.xid, acceptSuccess)
		if !s.isExport(dir) {
			c.log.Warn("refused mount of unknown export", "path", dir, "export", s.cfg.Export)
			s.record(custody.TypeMountRefused, custody.Mount{Client: c.client.String(), Path: dir, Reason: "not the export path " + s.cfg.Export})
			w.Uint32(mnt3ErrNoEnt)
			return w
		}
		s.addMount(mountEntry{client: c.client.String(), dir: dir})
		c.log.Info("mount accepted", "path", dir)
		s.record(custody.TypeMountAccepted, custody.Mount{Client: c.client.String(), Path: dir})
		w.Uint32(mnt3OK)
		w.Opaque(s.handles.handle(""))
		w.Uint32(1) // one flavor:
		w.Uint32(authSys)
		return w
	case mountProcDump:
		w := newReply(h.xid, acceptSuccess)
		for _, m := range s.mountList() {
			w.Bool(true)
			w.String(m.client)
			w.String(m.dir)
		}
		w.Bool(false)
		return w
	case mountProcUmnt:
		dir, err := args.String(maxMountPath)
		if err != nil {
			return newReply(h.xid, acceptGarbageArgs)
		}
		if s.removeMount(c.client.String(), dir) {
			c.log.Info("unmounted", "path", dir)
			s.record(custody.TypeMountReleased, custody.Mount{Client: c.client.String(), Path: dir})
		}
		return newReply(h.xid, acceptSuccess)
	case mountProcUmntAll:
		if s.removeMount(c.client.String(), "") {
			s.record(custody.TypeMountReleased, custody.Mount{Client: c.client.String(), Path: "*"})
		}
		return newReply(h.xid, acceptSuccess)
	case mountProcExport:
		w := newReply(h.xid, acceptSuccess)
		w.Bool(true)
		w.String(s.cfg.Export)
		for _, g := range s.exportGroups() {
			w.Bool(true)
			w.String(g)
		}
		w.Bool(false) // end of groups
		w.Bool(false) // end of exports
		return w
	default:
		return newReply(h.xid, acceptProcUnavail)
	}
}

// isExport accepts the export path with or without a trailing slash; any
// other path, including sub-folders, is refused.
func (s *Sink) isExport(dir string) bool {
	return dir == s.cfg.Export || strings.TrimSuffix(dir, "/") == s.cfg.Export
}

func (s *Sink) exportGroups() []string {
	if s.cfg.AllowAny {
		return []string{"*"}
	}
	var g []string
	for _, p := range s.cfg.Allow {
		g = append(g, p.String())
	}
	return g
}

func (s *Sink) addMount(m mountEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.mounts, m) {
		s.mounts = append(s.mounts, m)
	}
}

// removeMount drops client's mount of dir ("" for all of them) and reports
// whether there was one.
func (s *Sink) removeMount(client, dir string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.mounts)
	s.mounts = slices.DeleteFunc(s.mounts, func(m mountEntry) bool {
		return m.client == client && (dir == "" || path.Clean(m.dir) == path.Clean(dir))
	})
	return len(s.mounts) != n
}

func (s *Sink) mountList() []mountEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mounts)
}
