package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// FuzzVMDKCommands runs `esxsink vmdk info|verify|convert` in process on
// a fuzzed descriptor naming a fuzzed data file and a fuzzed parent, as
// an examiner would on hostile evidence. Whatever the files hold, the
// commands must not panic and must exit 0 or 1, never 2 (the arguments
// are right: a bad disk is not a usage error). Each run is bounded by a
// context deadline.
func FuzzVMDKCommands(f *testing.F) {
	parent := []byte("version=1\nCID=0000abcd\nparentCID=ffffffff\ncreateType=\"vmfs\"\nRW 8 VMFS \"parent-flat.vmdk\"\n")
	child := func(line string) []byte {
		return []byte("version=1\nCID=1\nparentCID=0000abcd\ncreateType=\"vmfsSparse\"\nparentFileNameHint=\"parent.vmdk\"\n" + line + "\n")
	}
	f.Add(child(`RW 8 VMFSSPARSE "data.vmdk"`), cat(cowd(8, 1, 4, 1, 37), le32s(5), make([]byte, 508), le32s(36), make([]byte, 16380), []byte("grain")), parent)
	f.Add(child(`RW 8 FLAT "data.vmdk" 0`), make([]byte, 4096), parent)
	f.Add(child(`RW 2 FLAT "../../etc/passwd" 0`), []byte{}, parent)
	f.Add(child(`RW 2048 SESPARSE "data.vmdk"`), sesparse(67*512, nil), parent)
	f.Add([]byte("x"), cat(kdmv(1<<20, 128, 512, 1, 2), make([]byte, 512)), []byte{})
	f.Fuzz(func(t *testing.T, desc, data, parentDesc []byte) {
		if len(desc) > 64<<10 || len(data) > 1<<20 || len(parentDesc) > 64<<10 {
			return
		}
		dir := t.TempDir()
		for name, b := range map[string][]byte{"disk.vmdk": desc, "data.vmdk": data, "parent.vmdk": parentDesc, "parent-flat.vmdk": make([]byte, 4096)} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		disk := filepath.Join(dir, "disk.vmdk")
		for _, args := range [][]string{
			{"info", disk},
			{"verify", disk},
			{"convert", "--quiet", "--hash", "none", "--force", disk, filepath.Join(dir, "out.raw")},
			{"info", filepath.Join(dir, "data.vmdk")},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			app := newApp()
			app.Writer, app.ErrWriter = io.Discard, io.Discard
			err := app.RunContext(ctx, append([]string{"esxsink", "vmdk"}, args...))
			cancel()
			var ec cli.ExitCoder
			if errors.As(err, &ec) && ec.ExitCode() == 2 {
				t.Fatalf("vmdk %s: exit 2 (usage) on a bad disk: %v", args[0], err)
			}
		}
	})
}
