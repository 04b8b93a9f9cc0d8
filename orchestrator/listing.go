package orchestrator

import (
	"strconv"
	"strings"
	"time"

	"github.com/esxsink/esxsink/esxi"
)

// parseListing parses esxi.CmdLsVMFolder output. When the host's stat does
// not know %f (it prints "?" for the mode, as the simulator's stat does
// today), the strict parser fails; the entries are then read with the type
// unknown and taken as regular files, and lenient is set so the caller can
// warn.
func parseListing(out string) (entries []esxi.FolderEntry, lenient bool, err error) {
	entries, err = esxi.ParseFolderListing(out)
	if err == nil {
		return entries, false, nil
	}
	strictErr := err
	if !strings.HasSuffix(out, "\x00") {
		return nil, false, strictErr
	}
	for _, r := range strings.Split(strings.TrimSuffix(out, "\x00"), "\x00") {
		f := strings.SplitN(r, " ", 5)
		if len(f) != 5 || f[4] == "" || f[0] != "?" || strings.Contains(f[4], "/") {
			return nil, false, strictErr
		}
		size, err1 := strconv.ParseInt(f[1], 10, 64)
		blocks, err2 := strconv.ParseInt(f[2], 10, 64)
		mtime, err3 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || size < 0 {
			return nil, false, strictErr
		}
		entries = append(entries, esxi.FolderEntry{Name: f[4], Mode: 0x8000 | 0o600, Size: size,
			Blocks: blocks, Mtime: time.Unix(mtime, 0).UTC()})
	}
	return entries, true, nil
}

// datastoreHostPath resolves "[DATASTORE] PATH" against the known
// datastore names first: a datastore name may itself contain brackets
// ("Old SAN [LUN 5]"), which esxi.ParseDatastorePath splits at the wrong
// "]".
func datastoreHostPath(s string, stores []esxi.Filesystem) (string, error) {
	best := ""
	for _, ds := range stores {
		if ds.VolumeName != "" && strings.HasPrefix(s, "["+ds.VolumeName+"] ") && len(ds.VolumeName) > len(best) {
			best = ds.VolumeName
		}
	}
	if best != "" {
		return esxi.DatastorePath{Datastore: best, Path: strings.TrimPrefix(s, "["+best+"] ")}.HostPath(), nil
	}
	dp, err := esxi.ParseDatastorePath(s)
	if err != nil {
		return "", err
	}
	return dp.HostPath(), nil
}
