package esxsim

import (
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/esxsink/esxsink/vmdk"
)

// cmdVmkfstools implements vmkfstools -q (query an RDM): it follows the
// descriptor's chain to the base disk and reports the mapping.
func cmdVmkfstools(e *env) int {
	if len(e.args) < 3 || (e.args[1] != "-q" && e.args[1] != "--queryrdm") {
		fmt.Fprintln(e.stderr, "vmkfstools: this simulation supports only -q|--queryrdm <vmdk>")
		return 1
	}
	name := e.args[2]
	p := e.abs(name)
	if a := e.h.faults.take(FaultRDMQueryFail, func(a *activeFault) bool {
		return a.Path == "" || pathMatches(a.Path, e.h.canonPath(p))
	}); a != nil {
		msg := a.Message
		if msg == "" {
			msg = fmt.Sprintf("Failed to open disk %s: %s", name, strerror(syscall.EBUSY))
		}
		fmt.Fprintln(e.stdout, msg)
		return 1
	}
	for range 32 {
		d, err := readDescriptor(e, p)
		if err != nil {
			fmt.Fprintf(e.stdout, "Failed to open disk %s: %s\n", name, strerror(err))
			return 1
		}
		if d.ParentFileNameHint != "" {
			p = e.abs(path.Join(path.Dir(p), d.ParentFileNameHint))
			if strings.HasPrefix(d.ParentFileNameHint, "/") {
				p = d.ParentFileNameHint
			}
			continue
		}
		var kind string
		switch d.CreateType {
		case "vmfsPassthroughRawDeviceMap":
			kind = "a Passthrough Raw Device Mapping"
		case "vmfsRawDeviceMap":
			kind = "a Non-passthrough Raw Device Mapping"
		default:
			fmt.Fprintf(e.stdout, "Disk %s is not a Raw Device Mapping\n", name)
			return 1
		}
		vml := ""
		e.h.mu.Lock()
		for _, v := range e.h.vms {
			for _, dk := range v.disks {
				if dk.dev != nil && e.h.canonPath(dk.path(dk.desc)) == e.h.canonPath(p) {
					vml = dk.dev.spec.VML
				}
			}
		}
		e.h.mu.Unlock()
		fmt.Fprintf(e.stdout, "Disk %s is %s\nMaps to: %s\n", name, kind, vml)
		return 0
	}
	return 1
}

func readDescriptor(e *env, p string) (*vmdk.Descriptor, error) {
	f, err := e.h.openFile(p, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, err
	}
	return vmdk.ParseDescriptor(path.Base(p), b)
}
