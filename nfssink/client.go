package nfssink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/esxsink/esxsink/custody"
)

// Client talks to a running sink's control API.
type Client struct {
	socket string
	hc     *http.Client
}

// NewClient connects to the control socket of the case whose state folder
// is stateDir.
func NewClient(stateDir string) *Client {
	p := ControlSocketPath(stateDir)
	return &Client{socket: p, hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", p)
		},
	}}}
}

// ErrNoSink means no esxsink serve answers on the case's control socket.
var ErrNoSink = errors.New("no esxsink serve is running on this case")

// APIError is a request the running sink answered with an error: a
// refusal (403: a record type only the sink writes), a bad request, or
// its own failure. Status is the HTTP status, Message the sink's words.
type APIError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("sink: %s %s: %s", e.Method, e.Path, e.Message)
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://sink"+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		why := err.Error()
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			why = oe.Err.Error() // "connect: no such file or directory", not the HTTP plumbing
		}
		return fmt.Errorf("%w: nothing answers on its control socket %s (%s)", ErrNoSink, c.socket, why)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		return &APIError{Method: method, Path: path, Status: resp.StatusCode, Message: e.Error}
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Status fetches the sink's state.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, &st)
	return st, err
}

// Finalize asks the sink to finalize a file and returns its record.
func (c *Client) Finalize(ctx context.Context, req FinalizeRequest) (custody.FileFinalized, error) {
	var res custody.FileFinalized
	err := c.do(ctx, http.MethodPost, "/v1/finalize", req, &res)
	return res, err
}

// MakeDir asks the sink to create an evidence folder.
func (c *Client) MakeDir(ctx context.Context, rel string) error {
	return c.do(ctx, http.MethodPost, "/v1/mkdir", MakeDirRequest{Path: rel}, &struct{}{})
}

// Supersede asks the sink to move the attempt at rel aside; nil when
// nothing was there.
func (c *Client) Supersede(ctx context.Context, req SupersedeRequest) (*custody.FileSuperseded, error) {
	var res SupersedeResponse
	err := c.do(ctx, http.MethodPost, "/v1/supersede", req, &res)
	return res.Moved, err
}

// Append asks the sink to append a custody record of type typ; data is
// marshalled to JSON. It makes the client a custody log for an
// orchestrator working with a running serve, which holds the log's lock.
func (c *Client) Append(ctx context.Context, typ string, data any) (custody.Record, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return custody.Record{}, err
	}
	var rec custody.Record
	err = c.do(ctx, http.MethodPost, "/v1/record", RecordRequest{Type: typ, Data: b}, &rec)
	return rec, err
}

// Events streams events to fn until ctx ends or fn returns an error.
func (c *Client) Events(ctx context.Context, fn func(json.RawMessage) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://sink/v1/events", nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if err := fn(json.RawMessage(sc.Bytes())); err != nil {
			return err
		}
	}
	return sc.Err()
}
