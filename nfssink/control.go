package nfssink

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/esxsink/esxsink/custody"
)

// The control API is HTTP over a unix socket in the case folder, so only
// users who can open the case can drive the sink. JSON throughout.
//
//	GET  /v1/status    sink, mounts, files being received and finalized
//	POST /v1/finalize  {"path":..., "expected_size":N, "at_rest":true}
//	POST /v1/mkdir     {"path":...}: create an evidence folder
//	POST /v1/supersede {"path":..., "run":..., "reason":...}: move an earlier attempt aside
//	GET  /v1/events    one JSON event per line, as they happen

// Status is the sink's state for the control API and `esxsink status`.
type Status struct {
	Verifier  string                  `json:"verifier"`
	NFS       string                  `json:"nfs_address"`
	Portmap   string                  `json:"portmap"`
	Export    string                  `json:"export"`
	Mounts    []MountInfo             `json:"mounts"`
	Receiving []FileStatus            `json:"receiving"`
	Finalized []custody.FileFinalized `json:"finalized"`
	Received  int64                   `json:"bytes_received"`
	FreeBytes int64                   `json:"free_bytes"`
	Time      time.Time               `json:"time"`
}

// MountInfo is a client's mount.
type MountInfo struct {
	Client string `json:"client"`
	Path   string `json:"path"`
}

// FileStatus is a file being received.
type FileStatus = fileStatus

// FinalizeRequest asks the sink to finalize a file.
type FinalizeRequest struct {
	Path         string `json:"path"`
	ExpectedSize *int64 `json:"expected_size,omitempty"`
	AtRest       bool   `json:"at_rest"`
	// Reason goes into the file.finalized record ("api" when empty).
	Reason string `json:"reason,omitempty"`
}

// MakeDirRequest asks the sink to create an evidence folder.
type MakeDirRequest struct {
	Path string `json:"path"`
}

// SupersedeRequest asks the sink to move the attempt at Path aside
// (Sink.Supersede).
type SupersedeRequest struct {
	Path   string `json:"path"`
	Run    string `json:"run"`
	Reason string `json:"reason,omitempty"`
}

// SupersedeResponse is the move made; Moved is nil when nothing was at
// the path.
type SupersedeResponse struct {
	Moved *custody.FileSuperseded `json:"moved"`
}

// RecordRequest asks the sink to append a record of another part of
// esxsink (an orchestrator using a running serve) to the custody log the
// sink holds open.
type RecordRequest struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// sinkRecordTypes are written by the sink alone: another process may not
// speak for it.
var sinkRecordTypes = map[string]bool{
	custody.TypeCaseOpened: true, custody.TypeSinkStarted: true, custody.TypeSinkStopped: true,
	custody.TypeMountAccepted: true, custody.TypeMountRefused: true, custody.TypeMountReleased: true,
	custody.TypeFileCreated: true, custody.TypeFileFinalized: true, custody.TypeDirCreated: true,
	custody.TypePolicyRefused: true, custody.TypeWriteAnomaly: true, custody.TypeNoSpace: true,
	custody.TypeFileSuperseded: true,
}

// Status reports the sink's current state.
func (s *Sink) Status() Status {
	now := time.Now()
	st := Status{Verifier: s.Verifier(), Export: s.cfg.Export, Received: s.stats.written.Load(), FreeBytes: s.freeBytes(), Time: now.UTC()}
	if s.nfsLn != nil {
		st.NFS = s.nfsLn.Addr().String()
	}
	if s.portmap != nil {
		st.Portmap = s.portmap.describe()
	}
	for _, m := range s.mountList() {
		st.Mounts = append(st.Mounts, MountInfo{Client: m.client, Path: m.dir})
	}
	for _, t := range s.activeTrackers() {
		st.Receiving = append(st.Receiving, t.status(now))
	}
	s.mu.Lock()
	for _, f := range s.finalized {
		st.Finalized = append(st.Finalized, f)
	}
	s.mu.Unlock()
	sort.Slice(st.Finalized, func(i, j int) bool { return st.Finalized[i].Path < st.Finalized[j].Path })
	return st
}

// ControlSocketPath is where a case's control socket lives. Unix socket
// paths are limited to about 100 bytes, so a long case path falls back to
// the temp folder, with a pointer file in the case.
func ControlSocketPath(stateDir string) string {
	p := filepath.Join(stateDir, "control.sock")
	if len(p) < 100 {
		return p
	}
	if b, err := os.ReadFile(filepath.Join(stateDir, "control-path")); err == nil {
		return string(b)
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("esxsink-%d.sock", time.Now().UnixNano()))
}

// ServeControl serves the control API until ctx ends.
func (s *Sink) ServeControl(ctx context.Context) (string, error) {
	p := ControlSocketPath(s.cfg.StateDir)
	if filepath.Dir(p) != s.cfg.StateDir {
		if err := os.WriteFile(filepath.Join(s.cfg.StateDir, "control-path"), []byte(p), 0o600); err != nil {
			return "", err
		}
	}
	if c, err := net.DialTimeout("unix", p, time.Second); err == nil {
		c.Close()
		return "", fmt.Errorf("another sink is already serving this case (control socket %s answers): stop it first", p)
	}
	os.Remove(p) // a stale socket from a killed sink
	ln, err := net.Listen("unix", p)
	if err != nil {
		return "", fmt.Errorf("control socket %s: %w", p, err)
	}
	srv := &http.Server{Handler: s.controlMux(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		os.Remove(p)
	}()
	return p, nil
}

func (s *Sink) controlMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Status())
	})
	mux.HandleFunc("POST /v1/finalize", func(w http.ResponseWriter, r *http.Request) {
		var req FinalizeRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil || req.Path == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"path\": ..., \"expected_size\": N, \"at_rest\": bool}"})
			return
		}
		exp := int64(-1)
		if req.ExpectedSize != nil {
			exp = *req.ExpectedSize
		}
		res, err := s.Finalize(r.Context(), req.Path, cmp.Or(req.Reason, "api"), exp, req.AtRest)
		if err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, ErrNotOpen) {
				code = http.StatusNotFound
			}
			writeJSON(w, code, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST /v1/mkdir", func(w http.ResponseWriter, r *http.Request) {
		var req MakeDirRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil || req.Path == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"path\": ...}"})
			return
		}
		if err := s.MakeDir(req.Path); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{})
	})
	mux.HandleFunc("POST /v1/supersede", func(w http.ResponseWriter, r *http.Request) {
		var req SupersedeRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil || req.Path == "" || req.Run == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"path\": ..., \"run\": ..., \"reason\": ...}"})
			return
		}
		moved, err := s.Supersede(req.Path, req.Run, req.Reason)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, SupersedeResponse{Moved: moved})
	})
	mux.HandleFunc("GET /v1/evidence", func(w http.ResponseWriter, r *http.Request) {
		rel := r.URL.Query().Get("path")
		if rel == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "give ?path=REL, a file of the evidence folder"})
			return
		}
		f, err := s.OpenEvidence(r.Context(), rel)
		if err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, fs.ErrNotExist) {
				code = http.StatusNotFound
			}
			writeJSON(w, code, map[string]string{"error": err.Error()})
			return
		}
		defer f.Close()
		// Byte ranges (Range:) let a reader seek; nothing is cached.
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", time.Time{}, f)
	})
	mux.HandleFunc("POST /v1/record", func(w http.ResponseWriter, r *http.Request) {
		var req RecordRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.Type == "" || len(req.Data) == 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"type\": ..., \"data\": {...}}"})
			return
		}
		if sinkRecordTypes[req.Type] {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "record type " + req.Type + " is the sink's own"})
			return
		}
		rec, err := s.cfg.Log.Append(req.Type, req.Data)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, rec)
	})
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		ch, cancel := s.events.subscribe()
		defer cancel()
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		fl, _ := w.(http.Flusher)
		enc := json.NewEncoder(w)
		// The first event says the subscription is in place: a client
		// knows from then on it misses nothing.
		if enc.Encode(Event{Type: EventSubscribed, Time: time.Now().UTC()}) != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
		for {
			select {
			case <-r.Context().Done():
				return
			case e, ok := <-ch:
				if !ok || enc.Encode(e) != nil {
					return
				}
				if fl != nil {
					fl.Flush()
				}
			}
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
