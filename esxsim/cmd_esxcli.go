package esxsim

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// volume is one mounted file system, as esxcli storage filesystem list
// and df show it.
type volume struct {
	name, uuid, typ string
	size, free      int64
	nas             *nfsMount
	mounted         bool
}

func (v volume) mountPoint() string { return "/vmfs/volumes/" + v.uuid }

// volumes lists VMFS datastores, NFS mounts and boot volumes.
func (h *Host) volumes(ctx context.Context) []volume {
	var out []volume
	for _, d := range h.dss {
		out = append(out, volume{name: d.spec.Name, uuid: d.spec.UUID, typ: d.spec.Type, size: int64(d.spec.Capacity), free: int64(d.spec.Free), mounted: true})
	}
	for _, m := range h.mountList() {
		v := volume{name: m.label, uuid: m.uuid, typ: "NFS", nas: m, mounted: m.accessible()}
		if v.mounted {
			sctx, cancel := context.WithTimeout(ctx, 5*1e9)
			if st, err := m.c.FSStat(sctx, m.c.Root); err == nil {
				v.size, v.free = int64(st.TotalBytes), int64(st.AvailBytes)
			}
			cancel()
		}
		out = append(out, v)
	}
	for i, b := range h.bootVolumes() {
		size, free := int64(4293591040), int64(3975413760-i*11243520)
		if b.typ == "VMFSOS" {
			size, free = 128849018880, 124812410880
		}
		out = append(out, volume{name: b.name, uuid: b.uuid, typ: b.typ, size: size, free: free, mounted: true})
	}
	return out
}

// esxcliUsageError is esxcli's complaint about its options.
type esxcliUsageError struct{ msg string }

func (e *esxcliUsageError) Error() string { return e.msg }

// esxcliOpts parses a command's options: --name=value, --name value,
// -x value, and flags.
type esxcliOpts map[string]string

func parseEsxcliOpts(args []string, spec map[string]string, flags map[string]bool) (esxcliOpts, error) {
	o := esxcliOpts{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return nil, &esxcliUsageError{fmt.Sprintf("Error: Unknown command or namespace %s", a)}
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		long, ok := spec[name]
		if !ok {
			return nil, &esxcliUsageError{fmt.Sprintf("Error: Invalid option %s", a)}
		}
		if flags[long] {
			if !hasVal {
				val = "true"
			}
			o[long] = val
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, &esxcliUsageError{fmt.Sprintf("Error: Missing required parameter value for option %s", a)}
			}
			val = args[i+1]
			i++
		}
		o[long] = val
	}
	return o, nil
}

type esxcliCmd func(e *env, args []string) (esxResult, error)

var esxcliCmds = map[string]esxcliCmd{
	"vm process list":          esxcliVMProcessList,
	"storage nfs list":         esxcliNFSList,
	"storage nfs add":          esxcliNFSAdd,
	"storage nfs remove":       esxcliNFSRemove,
	"storage core device list": esxcliDeviceList,
	"storage filesystem list":  esxcliFilesystemList,
	"system version get":       esxcliVersion,
	"system hostname get":      esxcliHostname,
	"storage vmfs extent list": esxcliExtentList,
	"system stats installtime get": func(e *env, _ []string) (esxResult, error) {
		return esxResult{kind: "struct", one: esxStruct{typeName: "InstallTime", fields: []esxField{{"Install Time", e.h.sc.Start.Add(-400 * 24 * 3600 * 1e9).Format("2006-01-02T15:04:05")}}}}, nil
	},
}

// cmdEsxcli dispatches esxcli namespaces and formats the result.
func cmdEsxcli(e *env) int {
	args := e.args[1:]
	formatter := ""
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		switch {
		case strings.HasPrefix(a, "--formatter="):
			formatter = strings.TrimPrefix(a, "--formatter=")
			args = args[1:]
		case a == "--formatter" && len(args) > 1:
			formatter = args[1]
			args = args[2:]
		case a == "--debug" || a == "--version":
			args = args[1:]
		default:
			fmt.Fprintf(e.stdout, "Error: Invalid option %s\n", a)
			return 1
		}
	}
	switch formatter {
	case "", "csv", "xml", "keyvalue", "table", "tree", "simple":
	default:
		fmt.Fprintf(e.stdout, "Error: Invalid formatter: %s\n", formatter)
		return 1
	}
	if len(args) == 0 {
		fmt.Fprintln(e.stdout, "Usage: esxcli [options] {namespace}+ {cmd} [cmd options]\n\nOptions:\n  --formatter=<str>     Override the formatter to use for a given command. Available formatter: xml, csv, keyvalue\n\nAvailable Namespaces:\n  device                Device manager commands\n  storage               VMware storage commands.\n  system                VMkernel system properties and commands for configuring properties of the kernel core system.\n  vm                    A small number of operations that allow a user to Control Virtual Machine operations.")
		return 0
	}
	var words []string
	i := 0
	for ; i < len(args) && !strings.HasPrefix(args[i], "-"); i++ {
		words = append(words, args[i])
	}
	cmd := esxcliCmds[strings.Join(words, " ")]
	if cmd == nil {
		cmd = esxcliTriageCmds[strings.Join(words, " ")]
	}
	if cmd == nil {
		fmt.Fprintf(e.stdout, "Error: Unknown command or namespace %s\n", strings.Join(words, " "))
		return 1
	}
	res, err := cmd(e, args[i:])
	if err != nil {
		var ue *esxcliUsageError
		if errors.As(err, &ue) {
			fmt.Fprintln(e.stdout, ue.msg)
			return 1
		}
		fmt.Fprintln(e.stdout, err.Error())
		return 1
	}
	if formatter == "table" || formatter == "tree" || formatter == "simple" {
		formatter = ""
	}
	if err := res.render(e.stdout, formatter); err != nil {
		fmt.Fprintln(e.stdout, "Error:", err)
		return 1
	}
	return 0
}

func noOpts(args []string) error {
	if len(args) > 0 {
		return &esxcliUsageError{fmt.Sprintf("Error: Invalid option %s", args[0])}
	}
	return nil
}

func esxcliVMProcessList(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	res := esxResult{kind: "list"}
	e.h.mu.Lock()
	defer e.h.mu.Unlock()
	for _, v := range e.h.vms {
		if v.id == 0 || v.power != "on" {
			continue
		}
		world := int64(2100000 + v.id*4117)
		res.list = append(res.list, esxStruct{typeName: "VirtualMachine", header: v.spec.Name, fields: []esxField{
			{"World ID", world}, {"Process ID", int64(0)}, {"VMX Cartel ID", world - 3},
			{"UUID", v.spec.UUID}, {"Display Name", v.spec.Name}, {"Config File", v.vmxAbs()},
		}})
	}
	return res, nil
}

func esxcliNFSList(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	res := esxResult{kind: "list", table: true}
	for _, m := range e.h.mountList() {
		acc := m.accessible()
		res.list = append(res.list, esxStruct{typeName: "NasVolume", fields: []esxField{
			{"Volume Name", m.label}, {"Host", m.host}, {"Share", m.share}, {"Accessible", acc}, {"Mounted", true},
			{"Read-Only", m.readOnly}, {"isPE", false}, {"Hardware Acceleration", "Not Supported"},
		}})
	}
	return res, nil
}

func esxcliNFSAdd(e *env, args []string) (esxResult, error) {
	o, err := parseEsxcliOpts(args, map[string]string{"H": "host", "host": "host", "s": "share", "share": "share",
		"v": "volume-name", "volume-name": "volume-name", "r": "readonly", "readonly": "readonly",
		"c": "connections", "connections": "connections", "ispe": "ispe", "i": "ispe"}, map[string]bool{"readonly": true, "ispe": true})
	if err != nil {
		return esxResult{}, err
	}
	for _, k := range []string{"host", "share", "volume-name"} {
		if o[k] == "" {
			short := map[string]string{"host": "H", "share": "s", "volume-name": "v"}[k]
			return esxResult{}, &esxcliUsageError{fmt.Sprintf("Error: Missing required parameter -%s|--%s", short, k)}
		}
	}
	err = e.h.mountNAS(e.ctx, o["volume-name"], o["host"], o["share"], o["readonly"] == "true")
	if err != nil {
		var ne *nasError
		if errors.As(err, &ne) && strings.Contains(ne.reason, "already exported") {
			return esxResult{}, fmt.Errorf("Unable to create new NAS volume.  %s", ne.reason)
		}
		return esxResult{}, fmt.Errorf("Unable to add new NAS volume: Sysinfo error: %sSee VMkernel log for detailed error information", reasonOf(err))
	}
	return esxResult{kind: "none"}, nil
}

func reasonOf(err error) string {
	var ne *nasError
	if errors.As(err, &ne) {
		return ne.reason
	}
	return err.Error()
}

func esxcliNFSRemove(e *env, args []string) (esxResult, error) {
	o, err := parseEsxcliOpts(args, map[string]string{"v": "volume-name", "volume-name": "volume-name"}, nil)
	if err != nil {
		return esxResult{}, err
	}
	if o["volume-name"] == "" {
		return esxResult{}, &esxcliUsageError{"Error: Missing required parameter -v|--volume-name"}
	}
	switch err := e.h.unmountNAS(e.ctx, o["volume-name"]); {
	case errors.Is(err, errUnmountBusy):
		return esxResult{}, fmt.Errorf("Error performing operation: %v", err)
	case errors.Is(err, errNoSuchVolume):
		return esxResult{}, fmt.Errorf("Error performing operation: NFS Error: Unable to Unmount filesystem: The specified volume %s was not found.", o["volume-name"])
	case err != nil:
		return esxResult{}, fmt.Errorf("Error performing operation: %v", err)
	}
	return esxResult{kind: "none"}, nil
}

func (d *device) displayName() string {
	if d.spec.Display != "" {
		return d.spec.Display
	}
	switch d.spec.Kind {
	case "usb":
		return fmt.Sprintf("Local USB Direct-Access (%s)", d.spec.ID)
	case "local":
		return fmt.Sprintf("Local %s Disk (%s)", d.spec.Vendor, d.spec.ID)
	}
	return fmt.Sprintf("%s Fibre Channel Disk (%s)", d.spec.Vendor, d.spec.ID)
}

func esxcliDeviceList(e *env, args []string) (esxResult, error) {
	o, err := parseEsxcliOpts(args, map[string]string{"d": "device", "device": "device"}, nil)
	if err != nil {
		return esxResult{}, err
	}
	res := esxResult{kind: "list"}
	for _, d := range e.h.devs {
		if o["device"] != "" && o["device"] != d.spec.ID {
			continue
		}
		s := d.spec
		usb, local := s.Kind == "usb", s.Kind != "lun"
		plugin := "NMP"
		if s.Kind == "local" {
			plugin = "HPP"
		}
		res.list = append(res.list, esxStruct{typeName: "ScsiDevice", header: s.ID, headerKey: "Device", fields: []esxField{
			{"Display Name", d.displayName()}, {"Has Settable Display Name", !usb}, {"Size", int64(s.Size >> 20)},
			{"Device Type", "Direct-Access"}, {"Multipath Plugin", plugin}, {"Devfs Path", "/vmfs/devices/disks/" + s.ID},
			{"Vendor", s.Vendor}, {"Model", s.Model}, {"Revision", "0001"}, {"SCSI Level", int64(6)},
			{"Is Pseudo", false}, {"Status", "on"}, {"Is RDM Capable", s.Kind == "lun"}, {"Is Local", local},
			{"Is Removable", usb}, {"Is SSD", s.SSD}, {"Is VVOL PE", false}, {"Is Offline", false},
			{"Is Perennially Reserved", false}, {"Queue Full Sample Size", int64(0)}, {"Queue Full Threshold", int64(0)},
			{"Thin Provisioning Status", "unknown"}, {"Attached Filters", ""}, {"VAAI Status", "unsupported"},
			{"Other UIDs", s.VML}, {"Is Shared Clusterwide", s.Kind == "lun"}, {"Is SAS", false}, {"Is USB", usb},
			{"Is Boot Device", s.Kind == "local"}, {"Device Max Queue Depth", int64(map[bool]int{true: 1, false: 64}[usb])},
			{"No of outstanding IOs with competing worlds", int64(32)},
		}})
	}
	return res, nil
}

func esxcliFilesystemList(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	res := esxResult{kind: "list", table: true}
	for _, v := range e.h.volumes(e.ctx) {
		name := v.name
		if v.typ == "vfat" && !strings.HasPrefix(name, "BOOTBANK") {
			name = ""
		}
		res.list = append(res.list, esxStruct{typeName: "FilesystemVolume", fields: []esxField{
			{"Mount Point", v.mountPoint()}, {"Volume Name", name}, {"UUID", v.uuid}, {"Mounted", v.mounted},
			{"Type", v.typ}, {"Size", v.size}, {"Free", v.free},
		}})
	}
	return res, nil
}

func esxcliExtentList(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	res := esxResult{kind: "list", table: true}
	for _, d := range e.h.dss {
		dev := d.spec.Device
		if dev == "" {
			dev = e.h.devs[0].spec.ID
		}
		res.list = append(res.list, esxStruct{typeName: "VMFSExtent", fields: []esxField{
			{"Volume Name", d.spec.Name}, {"VMFS UUID", d.spec.UUID}, {"Extent Number", int64(0)},
			{"Device Name", dev}, {"Partition", int64(1)},
		}})
	}
	return res, nil
}

func esxcliVersion(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	h := e.h.sc.Host
	f := []esxField{{"Product", "VMware ESXi"}, {"Version", h.Version}, {"Build", "Releasebuild-" + h.Build}, {"Update", h.Update}}
	if h.Patch != "" {
		f = append(f, esxField{"Patch", h.Patch})
	}
	return esxResult{kind: "struct", one: esxStruct{typeName: "VersionGet", fields: f}}, nil
}

func esxcliHostname(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	h := e.h.sc.Host
	fqdn := h.Hostname
	if h.Domain != "" {
		fqdn += "." + h.Domain
	}
	return esxResult{kind: "struct", one: esxStruct{typeName: "FullHostname", fields: []esxField{
		{"Domain Name", h.Domain}, {"Fully Qualified Domain Name", fqdn}, {"Host Name", h.Hostname}}}}, nil
}
