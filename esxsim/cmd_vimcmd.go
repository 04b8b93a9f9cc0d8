package esxsim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// vimStr quotes a string as vim-cmd prints data objects.
func vimStr(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

var vimUsage = map[string]string{
	"snapshot.create": "Usage: snapshot.create vmid [snapshotName] [snapshotDescription] [includeMemory] [quiesced]",
	"snapshot.remove": "Usage: snapshot.remove vmid snapshotId [removeChildren]",
	"snapshot.get":    "Usage: snapshot.get vmid",
	"power.getstate":  "Usage: power.getstate vmid",
	"get.summary":     "Usage: get.summary vmid",
	"get.config":      "Usage: get.config vmid",
	"power.on":        "Usage: power.on vmid",
	"power.off":       "Usage: power.off vmid",
	"unregister":      "Usage: unregister vmid",
}

// cmdVimCmd is vim-cmd vmsvc/*: inventory, power state, summaries and
// snapshots, with vim-cmd's texts.
func cmdVimCmd(e *env) int {
	if len(e.args) < 2 {
		fmt.Fprintln(e.stdout, "Commands available under /:\nhbrsvc/       internalsvc/  solo/         vmsvc/\nhostsvc/      proxysvc/     vimsvc/       help")
		return 0
	}
	cmd := strings.TrimPrefix(e.args[1], "/")
	args := e.args[2:]
	if cmd == "vmsvc" || cmd == "vmsvc/" {
		fmt.Fprintln(e.stdout, "Commands available under vmsvc/:\nget.config          get.summary         power.getstate      snapshot.get\ngetallvms           power.off           power.on            snapshot.create\nsnapshot.remove     snapshot.removeall  unregister")
		return 0
	}
	sub, ok := strings.CutPrefix(cmd, "vmsvc/")
	if !ok {
		fmt.Fprintf(e.stdout, "(vmodl.fault.SystemError) {\n   faultCause = (vmodl.MethodFault) null, \n   faultMessage = <unset>, \n   reason = \"Invalid command\"\n   msg = \"Invalid command '%s'\"\n}\n", cmd)
		return 1
	}
	if sub == "getallvms" {
		vimGetAllVMs(e)
		return 0
	}
	usage, known := vimUsage[sub]
	if !known && sub != "snapshot.removeall" {
		fmt.Fprintf(e.stdout, "Unknown command '%s'\n", sub)
		return 1
	}
	if len(args) < 1 {
		fmt.Fprintf(e.stdout, "Insufficient arguments.\n%s\n", usage)
		return 1
	}
	e.h.opMu.Lock()
	defer e.h.opMu.Unlock()
	e.h.mu.Lock()
	v := e.h.vmByID(args[0])
	e.h.mu.Unlock()
	if v == nil {
		fmt.Fprintf(e.stdout, "Unable to find a VM corresponding to \"%s\"\n", args[0])
		return 1
	}
	switch sub {
	case "power.getstate":
		fmt.Fprintf(e.stdout, "Retrieved runtime info\n%s\n", map[string]string{"on": "Powered on", "off": "Powered off", "suspended": "Suspended"}[v.power])
	case "power.on", "power.off":
		on := sub == "power.on"
		if on {
			fmt.Fprintln(e.stdout, "Powering on VM:")
		} else {
			fmt.Fprintln(e.stdout, "Powering off VM:")
		}
		if (v.power == "on") == on {
			fmt.Fprintf(e.stdout, "Power %s failed\n", map[bool]string{true: "on", false: "off"}[on])
			return 1
		}
		e.h.mu.Lock()
		err := e.h.setPower(v, on)
		e.h.mu.Unlock()
		if err != nil {
			fmt.Fprintln(e.stdout, err)
			return 1
		}
	case "get.summary":
		fmt.Fprint(e.stdout, vimSummary(v))
	case "get.config":
		fmt.Fprint(e.stdout, vimConfig(v))
	case "snapshot.get":
		fmt.Fprint(e.stdout, "Get Snapshot:\n"+v.treeText())
	case "snapshot.create":
		return vimSnapshotCreate(e, v, args[1:])
	case "snapshot.remove":
		if len(args) < 2 {
			fmt.Fprintf(e.stdout, "Insufficient arguments.\n%s\n", usage)
			return 1
		}
		fmt.Fprintln(e.stdout, "Remove Snapshot:")
		e.h.mu.Lock()
		var s *snapshot
		for _, o := range v.snaps {
			if strconv.Itoa(o.uid) == args[1] {
				s = o
			}
		}
		if s == nil {
			e.h.mu.Unlock()
			fmt.Fprintf(e.stdout, "Snapshot not found: %s\n", args[1])
			return 1
		}
		err := e.h.removeSnapshot(v, s)
		tree := v.treeText()
		e.h.mu.Unlock()
		if err != nil {
			fmt.Fprintf(e.stdout, "Remove snapshot failed: %v\n", err)
			return 1
		}
		fmt.Fprint(e.stdout, tree)
	case "unregister":
		// The VM's files stay on its datastore; the host forgets it (and
		// a vCenter may still list it until the host reports the change).
		e.h.mu.Lock()
		defer e.h.mu.Unlock()
		if v.power != "off" {
			fmt.Fprintln(e.stdout, "(vim.fault.InvalidPowerState) {\n   faultCause = (vmodl.MethodFault) null, \n   faultMessage = <unset>, \n   requestedState = \"poweredOff\", \n   existingState = \"poweredOn\"\n   msg = \"The attempted operation cannot be performed in the current state (Powered on).\"\n}")
			return 1
		}
		v.id = 0
	case "snapshot.removeall":
		fmt.Fprintln(e.stdout, "Remove All Snapshots:")
		e.h.mu.Lock()
		defer e.h.mu.Unlock()
		for len(v.snaps) > 0 {
			if err := e.h.removeSnapshot(v, v.snaps[len(v.snaps)-1]); err != nil {
				fmt.Fprintf(e.stdout, "Remove all snapshots failed: %v\n", err)
				return 1
			}
		}
	}
	return 0
}

func vimBool(s string) bool {
	switch strings.ToLower(s) {
	case "1", "true", "yes":
		return true
	}
	return false
}

func vimSnapshotCreate(e *env, v *vm, args []string) int {
	name, desc := "", ""
	var memory, quiesce bool
	if len(args) > 0 {
		name = args[0]
	}
	if len(args) > 1 {
		desc = args[1]
	}
	if len(args) > 2 {
		memory = vimBool(args[2])
	}
	if len(args) > 3 {
		quiesce = vimBool(args[3])
	}
	fmt.Fprintln(e.stdout, "Create Snapshot:")
	if a := e.h.faults.take(FaultSnapshotCreate, func(a *activeFault) bool {
		return a.VM == "" || a.VM == v.spec.Name || a.VM == strconv.Itoa(v.id)
	}); a != nil {
		msg := a.Message
		if msg == "" {
			msg = "Create snapshot failed"
		}
		fmt.Fprintln(e.stdout, msg)
		e.h.foot.hostdLog("Task Completed : haTask-%d-vim.VirtualMachine.createSnapshot status error", v.id)
		return 1
	}
	if name == "" {
		name = fmt.Sprintf("VM Snapshot %s", vimDate(e.h.now()))
	}
	e.h.mu.Lock()
	_, err := e.h.createSnapshot(v, name, desc, memory, quiesce, e.h.now())
	e.h.mu.Unlock()
	if err != nil {
		fmt.Fprintln(e.stdout, "Create snapshot failed")
		e.h.log.Error("snapshot create failed", "vm", v.spec.Name, "err", err)
		return 1
	}
	return 0
}

// vimGetAllVMs prints vmsvc/getallvms: columns padded to their widest
// cell plus three spaces; the Annotation column only when some VM has
// one; a multi-line annotation continues on lines without a vmid.
func vimGetAllVMs(e *env) {
	e.h.mu.Lock()
	var vms []*vm
	for _, v := range e.h.vms {
		if v.id != 0 {
			vms = append(vms, v)
		}
	}
	e.h.mu.Unlock()
	sort.Slice(vms, func(i, j int) bool { return vms[i].id < vms[j].id })
	anno := false
	wName, wFile, wGuest, wVer := len("Name"), len("File"), len("Guest OS"), len("Version")
	for _, v := range vms {
		anno = anno || v.spec.Annotation != ""
		wName = max(wName, len(v.spec.Name))
		wFile = max(wFile, len(v.vmxPathName()))
		wGuest = max(wGuest, len(v.spec.GuestOS))
		wVer = max(wVer, len(fmt.Sprintf("vmx-%02d", v.spec.HWVersion)))
	}
	hdr := fmt.Sprintf("%-10s%-*s   %-*s   %-*s   %-*s", "Vmid", wName, "Name", wFile, "File", wGuest, "Guest OS", wVer, "Version")
	if anno {
		hdr += "   Annotation"
	}
	fmt.Fprintln(e.stdout, strings.TrimRight(hdr, " "))
	for _, v := range vms {
		line := fmt.Sprintf("%-7d%-*s   %-*s   %-*s   %-*s", v.id, wName, v.spec.Name, wFile, v.vmxPathName(), wGuest, v.spec.GuestOS, wVer, fmt.Sprintf("vmx-%02d", v.spec.HWVersion))
		if anno {
			line += "   " + v.spec.Annotation
		}
		fmt.Fprintln(e.stdout, line)
	}
}

func (v *vm) guestFullName() string {
	g := v.spec.GuestOS
	switch {
	case strings.HasPrefix(g, "ubuntu"):
		return "Ubuntu Linux (64-bit)"
	case strings.HasPrefix(g, "windows"):
		return "Microsoft Windows Server 2019 (64-bit)"
	case strings.HasPrefix(g, "debian"):
		return "Debian GNU/Linux 12 (64-bit)"
	case strings.HasPrefix(g, "rhel"), strings.HasPrefix(g, "centos"):
		return "Red Hat Enterprise Linux 8 (64-bit)"
	}
	return "Other (64-bit)"
}

func vimSummary(v *vm) string {
	ps := map[string]string{"on": "poweredOn", "off": "poweredOff", "suspended": "suspended"}[v.power]
	var committed int64
	for _, d := range v.disks {
		committed += d.size
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Listsummary:\n(vim.vm.Summary) {\n   vm = 'vim.VirtualMachine:%d',\n", v.id)
	fmt.Fprintf(&b, "   runtime = (vim.vm.RuntimeInfo) {\n      connectionState = \"connected\",\n      powerState = %s,\n      faultToleranceState = \"notConfigured\",\n      toolsInstallerMounted = false,\n", vimStr(ps))
	if v.power == "on" {
		fmt.Fprintf(&b, "      bootTime = \"%s\",\n", v.h.sc.Start.Add(-48*3600e9).Format("2006-01-02T15:04:05.999999Z"))
	} else {
		b.WriteString("      bootTime = <unset>,\n")
	}
	fmt.Fprintf(&b, "      consolidationNeeded = false,\n   },\n")
	fmt.Fprintf(&b, "   guest = (vim.vm.Summary.GuestSummary) {\n      guestId = %s,\n      guestFullName = %s,\n      toolsStatus = %s,\n   },\n",
		vimStr(v.spec.GuestOS), vimStr(v.guestFullName()), vimStr(map[bool]string{true: "toolsOk", false: "toolsNotRunning"}[v.power == "on"]))
	fmt.Fprintf(&b, "   config = (vim.vm.Summary.ConfigSummary) {\n      name = %s,\n      template = false,\n      vmPathName = %s,\n      memorySizeMB = %d,\n      numCpu = %d,\n      numEthernetCards = 1,\n      numVirtualDisks = %d,\n      uuid = %s,\n      annotation = %s,\n      guestId = %s,\n      guestFullName = %s,\n      hwVersion = \"vmx-%02d\",\n   },\n",
		vimStr(v.spec.Name), vimStr(v.vmxPathName()), v.spec.MemoryMB, v.spec.CPUs, len(v.disks), vimStr(v.uuidString()), vimStr(v.spec.Annotation),
		vimStr(v.spec.GuestOS), vimStr(v.guestFullName()), v.spec.HWVersion)
	fmt.Fprintf(&b, "   storage = (vim.vm.Summary.StorageSummary) {\n      committed = %d,\n      uncommitted = 0,\n      unshared = %d,\n   },\n", committed, committed)
	fmt.Fprintf(&b, "   overallStatus = \"green\",\n}\n")
	return b.String()
}

func vimConfig(v *vm) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Configuration:\n(vim.vm.ConfigInfo) {\n   name = %s,\n   guestFullName = %s,\n   version = \"vmx-%02d\",\n   uuid = %s,\n   template = false,\n   guestId = %s,\n   annotation = %s,\n",
		vimStr(v.spec.Name), vimStr(v.guestFullName()), v.spec.HWVersion, vimStr(v.uuidString()), vimStr(v.spec.GuestOS), vimStr(v.spec.Annotation))
	dir := fmt.Sprintf("[%s] %s/", v.ds.spec.Name, v.spec.Folder)
	fmt.Fprintf(&b, "   files = (vim.vm.FileInfo) {\n      vmPathName = %s,\n      snapshotDirectory = %s,\n      suspendDirectory = %s,\n      logDirectory = %s,\n   },\n",
		vimStr(v.vmxPathName()), vimStr(dir), vimStr(dir), vimStr(dir))
	fmt.Fprintf(&b, "   hardware = (vim.vm.VirtualHardware) {\n      numCPU = %d,\n      memoryMB = %d,\n      device = (vim.vm.device.VirtualDevice) [\n", v.spec.CPUs, v.spec.MemoryMB)
	for i, d := range v.disks {
		ctrl, unit := 0, i
		fmt.Sscanf(d.node, "scsi%d:%d", &ctrl, &unit)
		backing := "FlatVer2BackingInfo"
		if d.dev != nil {
			backing = "RawDiskMappingVer1BackingInfo"
		}
		mode := "persistent"
		if strings.HasPrefix(d.spec.Kind, "independent-") {
			mode = strings.TrimPrefix(d.spec.Kind, "independent-")
			mode = "independent_" + map[string]string{"persistent": "persistent", "nonpersistent": "nonpersistent"}[mode]
		}
		fmt.Fprintf(&b, "         (vim.vm.device.VirtualDisk) {\n            key = %d,\n            deviceInfo = (vim.Description) {\n               label = \"Hard disk %d\",\n               summary = \"%s KB\"\n            },\n",
			2000+i, i+1, groupThousands(d.size/1024))
		fmt.Fprintf(&b, "            backing = (vim.vm.device.VirtualDisk.%s) {\n               fileName = %s,\n               datastore = 'vim.Datastore:%s',\n               diskMode = %s,\n",
			backing, vimStr(v.datastorePath(d.running())), v.ds.spec.UUID, vimStr(mode))
		if d.dev != nil {
			fmt.Fprintf(&b, "               lunUuid = %s,\n               deviceName = %s,\n               compatibilityMode = %s,\n",
				vimStr(strings.TrimPrefix(d.dev.spec.VML, "vml.")), vimStr("/vmfs/devices/disks/"+d.dev.spec.VML),
				vimStr(map[bool]string{true: "physicalMode", false: "virtualMode"}[d.spec.Kind == "rdmp"]))
		} else {
			fmt.Fprintf(&b, "               thinProvisioned = %v,\n", d.spec.Kind == "thin")
		}
		fmt.Fprintf(&b, "            },\n            controllerKey = %d,\n            unitNumber = %d,\n            capacityInKB = %d,\n            capacityInBytes = %d,\n         },\n",
			1000+ctrl, unit, d.size/1024, d.size)
	}
	b.WriteString("      ],\n   },\n}\n")
	return b.String()
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, out...), ",")
}

// uuidString renders uuid.bios as the API does: 8-4-4-4-12 hex.
func (v *vm) uuidString() string {
	x := strings.NewReplacer(" ", "", "-", "").Replace(v.spec.UUID)
	if len(x) != 32 {
		return x
	}
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}
