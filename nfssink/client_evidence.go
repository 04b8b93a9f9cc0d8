package nfssink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
)

// OpenEvidence opens the evidence file rel of the sink read-only: reads
// stream byte ranges from GET /v1/evidence, each request bound to ctx.
func (c *Client) OpenEvidence(ctx context.Context, rel string) (io.ReadSeekCloser, error) {
	f := &remoteFile{c: c, ctx: ctx, rel: rel}
	resp, err := f.request(http.MethodHead, "")
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if f.size, err = strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); err != nil {
		return nil, fmt.Errorf("sink: open evidence %s: no size in the answer", rel)
	}
	return f, nil
}

// remoteFile reads an evidence file through the control API. A read
// continues the open response while the offset follows it; a seek
// elsewhere starts a new ranged request at the next read.
type remoteFile struct {
	c    *Client
	ctx  context.Context
	rel  string
	size int64
	off  int64
	body io.ReadCloser // positioned at off, or nil
}

func (f *remoteFile) request(method, rng string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(f.ctx, method, "http://sink/v1/evidence?path="+url.QueryEscape(f.rel), nil)
	if err != nil {
		return nil, err
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := f.c.hc.Do(req)
	if err != nil {
		if f.ctx.Err() != nil {
			return nil, f.ctx.Err()
		}
		return nil, fmt.Errorf("%w: %v", ErrNoSink, err)
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent {
		return resp, nil
	}
	defer resp.Body.Close()
	var e struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&e)
	if e.Error == "" {
		e.Error = resp.Status
	}
	err = fmt.Errorf("sink: open evidence %s: %s", f.rel, e.Error)
	if resp.StatusCode == http.StatusNotFound {
		err = fmt.Errorf("%w (%w)", err, fs.ErrNotExist)
	}
	return nil, err
}

func (f *remoteFile) Read(p []byte) (int, error) {
	if f.off >= f.size {
		return 0, io.EOF
	}
	if f.body == nil {
		resp, err := f.request(http.MethodGet, "bytes="+strconv.FormatInt(f.off, 10)+"-")
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusPartialContent && f.off != 0 {
			resp.Body.Close()
			return 0, errors.New("sink: the evidence read ignored the byte range")
		}
		f.body = resp.Body
	}
	n, err := f.body.Read(p)
	f.off += int64(n)
	if err == io.EOF && f.off < f.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (f *remoteFile) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += f.size
	}
	if offset < 0 {
		return f.off, errors.New("sink: seek before the start of an evidence file")
	}
	if offset != f.off && f.body != nil {
		f.body.Close()
		f.body = nil
	}
	f.off = offset
	return offset, nil
}

func (f *remoteFile) Close() error {
	if f.body != nil {
		f.body.Close()
		f.body = nil
	}
	return nil
}
