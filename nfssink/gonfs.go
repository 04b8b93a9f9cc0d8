package nfssink

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"

	nfs "github.com/willscott/go-nfs"

	billy "github.com/go-git/go-billy/v5"
)

// goNFSBridge runs go-nfs on connections the front end hands it, one
// in-memory pipe per client connection.
type goNFSBridge struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

var quietGoNFS sync.Once

func startGoNFS(ctx context.Context, h nfs.Handler, verifier [8]byte) *goNFSBridge {
	quietGoNFS.Do(func() {
		// go-nfs logs every refused handle at error level; our front end
		// logs what matters with context.
		nfs.Log.SetLevel(nfs.FatalLevel)
	})
	b := &goNFSBridge{conns: make(chan net.Conn), done: make(chan struct{})}
	srv := &nfs.Server{Handler: h, ID: verifier, Context: ctx}
	go srv.Serve(b)
	go func() { <-ctx.Done(); b.Close() }()
	return b
}

func (b *goNFSBridge) offer(c net.Conn) {
	select {
	case b.conns <- c:
	case <-b.done:
		c.Close()
	}
}

// Accept, Close and Addr make the bridge the net.Listener go-nfs serves.
func (b *goNFSBridge) Accept() (net.Conn, error) {
	select {
	case c := <-b.conns:
		return c, nil
	case <-b.done:
		return nil, net.ErrClosed
	}
}

func (b *goNFSBridge) Close() error {
	b.once.Do(func() { close(b.done) })
	return nil
}

func (b *goNFSBridge) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "go-nfs" }

// nfsHandler is the go-nfs Handler over the evidence folder.
type nfsHandler struct{ s *Sink }

// Mount is never reached: the front end answers MOUNT itself.
func (h *nfsHandler) Mount(context.Context, net.Conn, nfs.MountRequest) (nfs.MountStatus, billy.Filesystem, []nfs.AuthFlavor) {
	return nfs.MountStatusErrAcces, nil, nil
}

func (h *nfsHandler) Change(billy.Filesystem) billy.Change { return attrChanger{} }

func (h *nfsHandler) FSStat(_ context.Context, _ billy.Filesystem, st *nfs.FSStat) error {
	sp, err := diskSpace(h.s.cfg.EvidenceDir)
	if err != nil {
		return err
	}
	// The reserve kept for the custody log is not the client's to use.
	reserve := uint64(max(h.s.cfg.SpaceReserve, 0))
	avail := sp.avail - min(sp.avail, reserve)
	st.TotalSize, st.FreeSize, st.AvailableSize = sp.total, sp.free, avail
	st.TotalFiles, st.FreeFiles, st.AvailableFiles = sp.files, sp.freeFiles, sp.freeFiles
	return nil
}

func (h *nfsHandler) ToHandle(_ billy.Filesystem, p []string) []byte {
	return h.s.handles.handle(strings.Join(p, "/"))
}

func (h *nfsHandler) FromHandle(fh []byte) (billy.Filesystem, []string, error) {
	rel, err := h.s.handles.path(fh)
	if err != nil {
		return nil, nil, err
	}
	return h.s.efs, splitRel(rel), nil
}

func (h *nfsHandler) InvalidateHandle(billy.Filesystem, []byte) error { return nil }

// HandleLimit: handles are derived, not stored, so there is no limit to
// enforce; go-nfs only uses this as a hint.
func (h *nfsHandler) HandleLimit() int { return 1 << 20 }

var _ io.Closer = (*goNFSBridge)(nil)
