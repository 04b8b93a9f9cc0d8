package orchestrator

import (
	"errors"
	"maps"
	"os"

	"github.com/esxsink/esxsink/custody"

	"github.com/esxsink/esxsink/hashlog"
)

// Verified is a file an earlier run of the case verified.
type Verified struct {
	Host, Source, Dest string
	Size               int64
	Hashes             map[string]string
}

// VerifiedInCase reads the case's custody log for files an earlier collect
// from host (host:port as recorded) verified, by source path (a copy a
// later run superseded excluded). Collect resumes one only when the sink
// still holds its evidence file at the verified size.
func VerifiedInCase(caseDir, host string) (map[string]Verified, error) {
	all, err := VerifiedByHost(caseDir)
	return all[host], err
}

// VerifiedByHost is VerifiedInCase for every host of the case, by host
// and source path: two hosts' files of one path (each its own
// datastore1) are two entries.
func VerifiedByHost(caseDir string) (map[string]map[string]Verified, error) {
	recs, _, err := hashlog.ReadLog(hashlog.LogPath(caseDir))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	out := map[string]map[string]Verified{}
	for _, r := range recs {
		if r.Type == custody.TypeFileSuperseded {
			// A verified copy a later run replaced is no longer at its
			// path: what is there now is that run's copy.
			var m custody.FileSuperseded
			if r.Decode(&m) == nil {
				for _, files := range out {
					maps.DeleteFunc(files, func(_ string, v Verified) bool { return v.Dest == m.From })
				}
			}
			continue
		}
		if r.Type != custody.TypeFileVerified {
			continue
		}
		var s custody.Step
		if r.Decode(&s) != nil || s.Source == "" || s.Dest == "" {
			continue
		}
		if out[s.Host] == nil {
			out[s.Host] = map[string]Verified{}
		}
		out[s.Host][s.Source] = Verified{Host: s.Host, Source: s.Source, Dest: s.Dest, Size: s.Size, Hashes: s.SinkHashes}
	}
	return out, nil
}

// DatastoresInCase reads the datastore tables (host.datastores) earlier
// runs recorded in the case at caseDir, oldest first: DatastoreFolders
// keeps each datastore in the folder it was given. A case without a log
// has none.
func DatastoresInCase(caseDir string) ([]custody.Datastore, error) {
	recs, _, err := hashlog.ReadLog(hashlog.LogPath(caseDir))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []custody.Datastore
	for _, r := range recs {
		var t custody.Datastores
		if r.Type == custody.TypeDatastores && r.Decode(&t) == nil {
			out = append(out, t.Stores...)
		}
	}
	return out, nil
}
