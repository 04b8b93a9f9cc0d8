package esxsim

import (
	"errors"
	"fmt"
	"strings"
)

const esxcfgNasUsage = `esxcfg-nas <options> [<label>]
   -a|--add                Add a new NAS filesystem to /vmfs volumes.
                           Requires --host and --share options.
                           Use --readonly option only for readonly access.
   -o|--host <host>        Set the host name or ip address for a NAS mount.
                           For version 4.1, can be a comma-separated list.
   -s|--share <share>      Set the name of the NAS share on the remote system.
   -y|--readonly           Add the new NAS filesystem with readonly access.
   -d|--delete             Unmount and delete a filesystem.
   -l|--list               List the currently mounted NAS file systems.
   -r|--restore            Restore all NAS mounts from the configuration file.
                           (FOR INTERNAL USE ONLY).
   -h|--help               Show this message.
`

// cmdEsxcfgNas is esxcfg-nas: -a (mount through the portmapper and
// MOUNT v3 over TCP), -l, -d.
func cmdEsxcfgNas(e *env) int {
	var add, del, list, ro bool
	var host, share, label string
	args := e.args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch a {
		case "-a", "--add":
			add = true
		case "-d", "--delete":
			del = true
		case "-l", "--list":
			list = true
		case "-y", "--readonly":
			ro = true
		case "-o", "--host":
			host = val()
		case "-s", "--share":
			share = val()
		case "-h", "--help":
			fmt.Fprint(e.stdout, esxcfgNasUsage)
			return 0
		default:
			if strings.HasPrefix(a, "-") {
				fmt.Fprint(e.stdout, esxcfgNasUsage)
				return 1
			}
			label = a
		}
	}
	switch {
	case list:
		ms := e.h.mountList()
		if len(ms) == 0 {
			fmt.Fprintln(e.stdout, "No NAS datastore found")
			return 0
		}
		for _, m := range ms {
			state := "mounted available"
			if !m.accessible() {
				state = "mounted unavailable"
			}
			fmt.Fprintf(e.stdout, "%s is %s from %s %s\n", m.label, m.share, m.host, state)
		}
		return 0
	case add:
		if host == "" || share == "" || label == "" {
			fmt.Fprint(e.stdout, esxcfgNasUsage)
			return 1
		}
		fmt.Fprintf(e.stdout, "Connecting to NAS volume: %s\n", label)
		if err := e.h.mountNAS(e.ctx, label, host, share, ro); err != nil {
			fmt.Fprintf(e.stdout, "Unable to connect to NAS volume %s: Sysinfo error: %sSee VMkernel log for detailed error information\n", label, reasonOf(err))
			return 1
		}
		fmt.Fprintf(e.stdout, "%s created and connected.\n", label)
		return 0
	case del:
		if label == "" {
			fmt.Fprint(e.stdout, esxcfgNasUsage)
			return 1
		}
		err := e.h.unmountNAS(e.ctx, label)
		switch {
		case errors.Is(err, errNoSuchVolume):
			fmt.Fprintf(e.stdout, "Error performing operation: NAS volume %s not found\n", label)
			return 1
		case err != nil:
			fmt.Fprintf(e.stdout, "Error performing operation: %v\n", err)
			return 1
		}
		fmt.Fprintf(e.stdout, "NAS volume %s deleted.\n", label)
		return 0
	}
	fmt.Fprint(e.stdout, esxcfgNasUsage)
	return 1
}
