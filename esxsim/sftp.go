package esxsim

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// ESXi's sshd runs /usr/lib/vmware/openssh/bin/sftp-server for the "sftp"
// subsystem. The simulator serves it from its own file tree with
// pkg/sftp's request server, read-only: what the examiner's tools need is
// get, stat, lstat, readlink, realpath and directory listings. Reads go
// through openFile, so VM locks (EBUSY) and injected faults (bad sectors,
// slow I/O) reach the SFTP client as they would reach dd.

// sftpSubsystem is the subsystem name clients request.
const sftpSubsystem = "sftp"

// serveSFTP runs an SFTP session on ch until the client closes it and
// returns the exit status sshd would report.
func (c *sshConn) serveSFTP(ctx context.Context, s *session, ch ssh.Channel) int {
	start, t0 := c.h.now(), time.Now()
	rwc := &sftpChannel{Channel: ch, out: &countingWriter{c: c, w: ch}}
	srv := sftp.NewRequestServer(rwc, sftpHandlers(&sftpFS{h: c.h}), sftp.WithStartDirectory("/"))
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	err := srv.Serve()
	code := 0
	if err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
		c.h.log.Debug("sftp session ended", "err", err)
		code = 1
	}
	// The session is part of the examiner's footprint, as sshd's log of the
	// subsystem request is on a real host.
	c.h.foot.add(Command{Time: start, Session: s.id, User: s.user, Remote: s.remote, Kind: "subsystem",
		Line: sftpSubsystem, Exit: code, Duration: time.Since(t0)})
	return code
}

// sftpChannel routes the server's output through the connection's byte
// count, so an ssh_drop fault cuts SFTP transfers too.
type sftpChannel struct {
	ssh.Channel
	out io.Writer
}

func (c *sftpChannel) Write(p []byte) (int, error) { return c.out.Write(p) }

// sftpFS answers the request server from the host's file tree.
type sftpFS struct{ h *Host }

func sftpHandlers(f *sftpFS) sftp.Handlers {
	return sftp.Handlers{FileGet: f, FilePut: f, FileCmd: f, FileList: f}
}

// Fileread opens a file for reading. The returned *file is closed by the
// server when the client closes its handle.
func (f *sftpFS) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	p := absPath("/", r.Filepath)
	fi, err := f.h.stat(p, true)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, pathErr("open", p, syscall.EISDIR)
	}
	return f.h.openFile(p, os.O_RDONLY, 0)
}

// Filewrite refuses: the simulator's SFTP is read-only.
func (f *sftpFS) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	return nil, pathErr("open", absPath("/", r.Filepath), syscall.EROFS)
}

// Filecmd refuses every change (setstat, rename, remove, mkdir, links).
func (f *sftpFS) Filecmd(r *sftp.Request) error {
	return pathErr(lowerMethod(r.Method), absPath("/", r.Filepath), syscall.EROFS)
}

// Filelist answers List, Stat and Readlink.
func (f *sftpFS) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	p := absPath("/", r.Filepath)
	switch r.Method {
	case "List":
		infos, err := f.h.readDir(p)
		if err != nil {
			return nil, err
		}
		out := make(listerAt, len(infos))
		for i, fi := range infos {
			out[i] = fi
		}
		return out, nil
	case "Stat":
		fi, err := f.h.stat(p, true)
		if err != nil {
			return nil, err
		}
		return listerAt{f.named(fi, p)}, nil
	case "Readlink":
		fi, err := f.h.stat(p, false)
		if err != nil {
			return nil, err
		}
		if fi.mode&fs.ModeSymlink == 0 {
			return nil, pathErr("readlink", p, syscall.EINVAL)
		}
		return listerAt{&fileInfo{name: fi.target}}, nil
	}
	return nil, pathErr(lowerMethod(r.Method), p, syscall.ENOTSUP)
}

// Lstat reports a symlink itself, not its target.
func (f *sftpFS) Lstat(r *sftp.Request) (sftp.ListerAt, error) {
	p := absPath("/", r.Filepath)
	fi, err := f.h.stat(p, false)
	if err != nil {
		return nil, err
	}
	return listerAt{f.named(fi, p)}, nil
}

// Readlink is a symlink's target.
func (f *sftpFS) Readlink(p string) (string, error) {
	fi, err := f.h.stat(absPath("/", p), false)
	if err != nil {
		return "", err
	}
	if fi.mode&fs.ModeSymlink == 0 {
		return "", pathErr("readlink", p, syscall.EINVAL)
	}
	return fi.target, nil
}

// RealPath makes a client path absolute; root's home on ESXi is /.
func (f *sftpFS) RealPath(p string) (string, error) { return absPath("/", p), nil }

// named gives a stat result the base name of the path asked for.
func (f *sftpFS) named(fi *fileInfo, p string) *fileInfo {
	c := *fi
	if p != "/" {
		c.name = path.Base(p)
	}
	return &c
}

func lowerMethod(m string) string {
	b := []byte(m)
	if len(b) > 0 && b[0] >= 'A' && b[0] <= 'Z' {
		b[0] += 'a' - 'A'
	}
	return string(b)
}

// listerAt serves a fixed list of entries.
type listerAt []os.FileInfo

func (l listerAt) ListAt(dst []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(dst, l[off:])
	if off+int64(n) >= int64(len(l)) {
		return n, io.EOF
	}
	return n, nil
}

var (
	_ sftp.LstatFileLister    = (*sftpFS)(nil)
	_ sftp.ReadlinkFileLister = (*sftpFS)(nil)
	_ sftp.RealPathFileLister = (*sftpFS)(nil)
)
