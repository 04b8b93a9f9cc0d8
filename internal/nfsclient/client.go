package nfsclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/esxsink/esxsink/internal/xdr"
)

// Client makes NFSv3 calls over one RPC connection. It is safe for
// concurrent use; calls from several goroutines are pipelined.
type Client struct {
	*Conn
}

// NewClient wraps an RPC connection to an NFSv3 server.
func NewClient(c *Conn) *Client { return &Client{Conn: c} }

// call makes an NFSv3 call and reads its status word; a failing status is
// returned as the error, with the decoder positioned after it so the
// failure body can be read.
func (c *Client) call(ctx context.Context, proc uint32, what string, args *xdr.Encoder) (*xdr.Decoder, error) {
	var b []byte
	if args != nil {
		b = args.Bytes()
	}
	d, err := c.Call(ctx, ProgNFS, 3, proc, b)
	if err != nil {
		return nil, fmt.Errorf("NFS %s: %w", what, err)
	}
	st := u32(d)
	if d.Err() != nil {
		return nil, fmt.Errorf("NFS %s: %w", what, d.Err())
	}
	if st != 0 {
		return d, fmt.Errorf("NFS %s: %w", what, Status(st))
	}
	return d, nil
}

func done(d *xdr.Decoder, what string) error {
	if d.Err() != nil {
		return fmt.Errorf("NFS %s: %w", what, d.Err())
	}
	return nil
}

// Null pings the server.
func (c *Client) Null(ctx context.Context) error {
	_, err := c.Call(ctx, ProgNFS, 3, ProcNull, nil)
	return err
}

// Getattr returns a file's attributes.
func (c *Client) Getattr(ctx context.Context, fh FileHandle) (Attr, error) {
	e := &xdr.Encoder{}
	e.Opaque(fh)
	d, err := c.call(ctx, ProcGetattr, "GETATTR", e)
	if err != nil {
		return Attr{}, err
	}
	a := decodeAttr(d)
	return a, done(d, "GETATTR")
}

// Setattr changes a file's attributes.
func (c *Client) Setattr(ctx context.Context, fh FileHandle, s SetAttr) error {
	e := &xdr.Encoder{}
	e.Opaque(fh)
	s.encode(e)
	e.Bool(false) // no guard
	_, err := c.call(ctx, ProcSetattr, "SETATTR", e)
	return err
}

func dirop(dir FileHandle, name string) *xdr.Encoder {
	e := &xdr.Encoder{}
	e.Opaque(dir)
	e.String(name)
	return e
}

// Lookup finds name in dir.
func (c *Client) Lookup(ctx context.Context, dir FileHandle, name string) (FileHandle, *Attr, error) {
	what := "LOOKUP " + name
	d, err := c.call(ctx, ProcLookup, what, dirop(dir, name))
	if err != nil {
		return nil, nil, err
	}
	fh := FileHandle(clone(opaque(d, MaxFileHandle)))
	a := postOpAttr(d)
	return fh, a, done(d, what)
}

// Read reads up to count bytes at off; eof reports the end of the file.
func (c *Client) Read(ctx context.Context, fh FileHandle, off uint64, count uint32) (data []byte, eof bool, err error) {
	e := &xdr.Encoder{}
	e.Opaque(fh)
	e.Uint64(off)
	e.Uint32(count)
	d, err := c.call(ctx, ProcRead, "READ", e)
	if err != nil {
		return nil, false, err
	}
	postOpAttr(d)
	n := u32(d)
	eof = boolean(d)
	data = opaque(d, int(count))
	if err := done(d, "READ"); err != nil {
		return nil, false, err
	}
	if int(n) != len(data) {
		return nil, false, fmt.Errorf("NFS READ: count %d but %d bytes of data", n, len(data))
	}
	return data, eof, nil
}

// WriteResult is a WRITE's reply.
type WriteResult struct {
	Count     uint32
	Committed Stable
	Verifier  [8]byte
}

// Write writes data at off with the given stability.
func (c *Client) Write(ctx context.Context, fh FileHandle, off uint64, data []byte, stable Stable) (WriteResult, error) {
	e := xdr.NewEncoder(make([]byte, 0, len(data)+MaxFileHandle+32))
	e.Opaque(fh)
	e.Uint64(off)
	e.Uint32(uint32(len(data)))
	e.Uint32(uint32(stable))
	e.Opaque(data)
	d, err := c.call(ctx, ProcWrite, "WRITE", e)
	if err != nil {
		return WriteResult{}, err
	}
	skipWcc(d)
	var r WriteResult
	r.Count = u32(d)
	r.Committed = Stable(u32(d))
	copy(r.Verifier[:], fixed(d, 8))
	return r, done(d, "WRITE")
}

// CreateMode is CREATE's createmode3.
type CreateMode uint32

// Create modes.
const (
	Unchecked CreateMode = 0
	Guarded   CreateMode = 1
	Exclusive CreateMode = 2
)

// Create makes a regular file name in dir. For Exclusive, verf is the
// 8-byte create verifier; otherwise attr sets the initial attributes.
func (c *Client) Create(ctx context.Context, dir FileHandle, name string, how CreateMode, attr SetAttr, verf [8]byte) (FileHandle, *Attr, error) {
	e := dirop(dir, name)
	e.Uint32(uint32(how))
	if how == Exclusive {
		e.Fixed(verf[:])
	} else {
		attr.encode(e)
	}
	what := "CREATE " + name
	d, err := c.call(ctx, ProcCreate, what, e)
	if err != nil {
		return nil, nil, err
	}
	fh := postOpFH(d)
	a := postOpAttr(d)
	if err := done(d, what); err != nil {
		return nil, nil, err
	}
	if fh == nil {
		fh, a, err = c.Lookup(ctx, dir, name)
	}
	return fh, a, err
}

// Mkdir makes a directory name in dir.
func (c *Client) Mkdir(ctx context.Context, dir FileHandle, name string, attr SetAttr) (FileHandle, *Attr, error) {
	e := dirop(dir, name)
	attr.encode(e)
	what := "MKDIR " + name
	d, err := c.call(ctx, ProcMkdir, what, e)
	if err != nil {
		return nil, nil, err
	}
	fh := postOpFH(d)
	a := postOpAttr(d)
	if err := done(d, what); err != nil {
		return nil, nil, err
	}
	if fh == nil {
		fh, a, err = c.Lookup(ctx, dir, name)
	}
	return fh, a, err
}

// Remove removes the file name from dir.
func (c *Client) Remove(ctx context.Context, dir FileHandle, name string) error {
	_, err := c.call(ctx, ProcRemove, "REMOVE "+name, dirop(dir, name))
	return err
}

// Rmdir removes the directory name from dir.
func (c *Client) Rmdir(ctx context.Context, dir FileHandle, name string) error {
	_, err := c.call(ctx, ProcRmdir, "RMDIR "+name, dirop(dir, name))
	return err
}

// Rename moves from/fromName to to/toName.
func (c *Client) Rename(ctx context.Context, from FileHandle, fromName string, to FileHandle, toName string) error {
	e := dirop(from, fromName)
	e.Opaque(to)
	e.String(toName)
	_, err := c.call(ctx, ProcRename, "RENAME "+fromName, e)
	return err
}

// ReadDirPlus lists a directory with attributes and handles, following
// cookies until the server reports the end.
func (c *Client) ReadDirPlus(ctx context.Context, dir FileHandle) ([]DirEntry, error) {
	var out []DirEntry
	var cookie uint64
	var verf [8]byte
	for range 100000 {
		e := &xdr.Encoder{}
		e.Opaque(dir)
		e.Uint64(cookie)
		e.Fixed(verf[:])
		e.Uint32(16 << 10) // dircount
		e.Uint32(64 << 10) // maxcount
		d, err := c.call(ctx, ProcReaddirplus, "READDIRPLUS", e)
		if err != nil {
			return nil, err
		}
		postOpAttr(d)
		copy(verf[:], fixed(d, 8))
		for boolean(d) {
			var de DirEntry
			de.FileID = u64(d)
			de.Name = str(d, 255)
			cookie = u64(d)
			de.Attr = postOpAttr(d)
			de.Handle = postOpFH(d)
			if d.Err() != nil {
				break
			}
			out = append(out, de)
		}
		eof := boolean(d)
		if err := done(d, "READDIRPLUS"); err != nil {
			return nil, err
		}
		if eof {
			return out, nil
		}
	}
	return nil, errors.New("NFS READDIRPLUS: directory listing does not end")
}

// FSStat reports the file system's size and free space.
func (c *Client) FSStat(ctx context.Context, fh FileHandle) (FSStat, error) {
	e := &xdr.Encoder{}
	e.Opaque(fh)
	d, err := c.call(ctx, ProcFSStat, "FSSTAT", e)
	if err != nil {
		return FSStat{}, err
	}
	postOpAttr(d)
	var s FSStat
	s.TotalBytes, s.FreeBytes, s.AvailBytes = u64(d), u64(d), u64(d)
	s.TotalFiles, s.FreeFiles, s.AvailFiles = u64(d), u64(d), u64(d)
	u32(d) // invarsec
	return s, done(d, "FSSTAT")
}

// FSInfo reports transfer sizes and limits.
func (c *Client) FSInfo(ctx context.Context, fh FileHandle) (FSInfo, error) {
	e := &xdr.Encoder{}
	e.Opaque(fh)
	d, err := c.call(ctx, ProcFSInfo, "FSINFO", e)
	if err != nil {
		return FSInfo{}, err
	}
	postOpAttr(d)
	var i FSInfo
	i.RTMax, i.RTPref, i.RTMult = u32(d), u32(d), u32(d)
	i.WTMax, i.WTPref, i.WTMult = u32(d), u32(d), u32(d)
	i.DTPref = u32(d)
	i.MaxFileSize = u64(d)
	u32(d)
	u32(d)
	i.Properties = u32(d)
	return i, done(d, "FSINFO")
}

// Commit asks the server to make [off, off+count) stable (count 0: the
// whole file) and returns the write verifier.
func (c *Client) Commit(ctx context.Context, fh FileHandle, off uint64, count uint32) ([8]byte, error) {
	e := &xdr.Encoder{}
	e.Opaque(fh)
	e.Uint64(off)
	e.Uint32(count)
	var v [8]byte
	d, err := c.call(ctx, ProcCommit, "COMMIT", e)
	if err != nil {
		return v, err
	}
	skipWcc(d)
	copy(v[:], fixed(d, 8))
	return v, done(d, "COMMIT")
}

// LookupPath walks a slash-separated path from dir.
func (c *Client) LookupPath(ctx context.Context, dir FileHandle, path string) (FileHandle, *Attr, error) {
	fh := dir
	var a *Attr
	for _, name := range splitPath(path) {
		var err error
		if fh, a, err = c.Lookup(ctx, fh, name); err != nil {
			return nil, nil, err
		}
	}
	if a == nil {
		at, err := c.Getattr(ctx, fh)
		if err != nil {
			return nil, nil, err
		}
		a = &at
	}
	return fh, a, nil
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			if s := p[start:i]; s != "" && s != "." {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	return out
}
