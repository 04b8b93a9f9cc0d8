// Package durable writes small files that must survive a crash the moment
// the call returns: the sink's case key and the orchestrator's saved host
// command outputs are evidence, and a file that exists but is empty after
// a power cut would be worse than none.
package durable

import "os"

// WriteFile creates p, which must not exist yet (evidence is never
// overwritten: an existing file is an fs.ErrExist error), writes b and
// syncs it to stable storage before closing. The file gets mode 0640.
func WriteFile(p string, b []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
