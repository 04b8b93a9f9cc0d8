package esxi

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Bus is a virtual disk controller type.
type Bus string

// Controllers that carry disks and CD-ROMs, in the order [VMX.Devices]
// lists them.
const (
	BusSCSI Bus = "scsi"
	BusSATA Bus = "sata"
	BusNVMe Bus = "nvme"
	BusIDE  Bus = "ide"
)

var busOrder = map[Bus]int{BusSCSI: 0, BusSATA: 1, BusNVMe: 2, BusIDE: 3}

// DeviceKind is what sits on a controller slot.
type DeviceKind string

// Device kinds.
const (
	KindDisk        DeviceKind = "disk"        // a .vmdk (or an RDM descriptor)
	KindCDROM       DeviceKind = "cdrom"       // an ISO or the host's drive
	KindPassthrough DeviceKind = "passthrough" // a host SCSI device (tape, changer)
	KindOther       DeviceKind = "other"       // no file name, or a type not known here
)

// Device is one controller slot of a .vmx: scsi0:1, sata0:0, nvme0:0,
// ide1:0.
type Device struct {
	Node              string // "scsi0:1"
	Bus               Bus
	Controller, Unit  int
	Kind              DeviceKind
	DeviceType        string // as written: "scsi-hardDisk", "cdrom-image", "atapi-cdrom" ...
	FileName          string // as written: relative to the VM folder, or absolute
	Mode              string // "", "persistent", "independent-persistent", "independent-nonpersistent" ...
	Present           bool   // NODE.present is TRUE
	ControllerPresent bool   // scsiN/sataN/nvmeN.present is TRUE; IDE unless ideN.present is FALSE
}

// Independent reports an independent disk: a VM snapshot does not cover it,
// so a copy from a running VM cannot be consistent.
func (d Device) Independent() bool {
	return strings.HasPrefix(strings.ToLower(d.Mode), "independent")
}

// Active reports a device the VM uses: the slot and its controller are
// both present.
func (d Device) Active() bool { return d.Present && d.ControllerPresent }

// HostPath resolves FileName against the folder holding the .vmx.
func (d Device) HostPath(vmxDir string) string { return JoinHostPath(vmxDir, d.FileName) }

// JoinHostPath resolves a file name from a .vmx or .vmsd: an absolute name
// (/vmfs/volumes/...) stands; a relative one (which may name a subfolder)
// is taken from dir. Nothing is cleaned: ".." and links are the host's to
// resolve, as the VM's own process does.
func JoinHostPath(dir, name string) string {
	if strings.HasPrefix(name, "/") || name == "" {
		return name
	}
	return strings.TrimRight(dir, "/") + "/" + name
}

// VMX is a parsed .vmx: the raw dictionary and the values discovery needs.
type VMX struct {
	Dict        *Dict
	Encoding    string // .encoding; "" means UTF-8
	DisplayName string
	GuestOS     string
	HWVersion   int   // virtualHW.version; 0 when absent
	MemSizeMB   int64 // memSize; the size of a .vmem/.vswp
	NumVCPUs    int
	NVRAM       string // nvram: the BIOS/EFI state file
	// SwapDerivedName is sched.swap.derivedName, the absolute path of the
	// .vswp of the VM's last run.
	SwapDerivedName string
	// WorkingDir is workingDir: where snapshot deltas and .vmsn files go
	// when set (otherwise the VM folder).
	WorkingDir string
	// SuspendFile is checkpoint.vmState, the .vmss of a suspended VM.
	SuspendFile string
	// Encrypted is set when the VM carries vSphere VM encryption keys: its
	// disks hold ciphertext.
	Encrypted bool
	Devices   []Device // every controller slot, in bus, controller, unit order
	// Warnings lists values that were there but unreadable (a non-numeric
	// memSize): reported, not fatal, so the disks are still found.
	Warnings []string
}

var deviceKey = regexp.MustCompile(`^(scsi|sata|nvme|ide)(\d{1,3}):(\d{1,3})\.(.+)$`)

// ParseVMX parses a .vmx file (see [ParseDict] for the syntax).
func ParseVMX(text []byte) (*VMX, error) {
	d, err := ParseDict(".vmx", text)
	if err != nil {
		return nil, err
	}
	v := &VMX{
		Dict:            d,
		Encoding:        d.String(".encoding"),
		DisplayName:     d.String("displayName"),
		GuestOS:         d.String("guestOS"),
		NVRAM:           d.String("nvram"),
		SwapDerivedName: d.String("sched.swap.derivedName"),
		WorkingDir:      d.String("workingDir"),
		SuspendFile:     d.String("checkpoint.vmState"),
	}
	v.HWVersion = int(v.number("virtualHW.version"))
	v.MemSizeMB = v.number("memSize")
	v.NumVCPUs = int(v.number("numvcpus"))
	for _, e := range d.Entries {
		lk := asciiLower(e.Key)
		if strings.HasPrefix(lk, "encryption.") && e.Value != "" {
			v.Encrypted = true
		}
	}
	v.Devices = devices(d)
	return v, nil
}

func (v *VMX) number(key string) int64 {
	s, ok := v.Dict.Get(key)
	if !ok || s == "" {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
	if err != nil || n < 0 {
		v.Warnings = append(v.Warnings, "line "+strconv.Itoa(v.Dict.Line(key))+": "+key+" "+strconv.Quote(clip(s))+" is not a number")
		return 0
	}
	return n
}

// Present reports whether namespace ns ("scsi0", "ethernet0", "floppy0")
// is switched on: ns.present is TRUE. An absent key counts as not present,
// as VMware does.
func (v *VMX) Present(ns string) bool {
	b, ok := v.Dict.Bool(ns + ".present")
	return ok && b
}

// Disks returns the active disks: kind disk, slot and controller present.
func (v *VMX) Disks() []Device { return v.filter(KindDisk) }

// CDROMs returns the active CD-ROM drives.
func (v *VMX) CDROMs() []Device { return v.filter(KindCDROM) }

func (v *VMX) filter(k DeviceKind) []Device {
	var out []Device
	for _, d := range v.Devices {
		if d.Kind == k && d.Active() {
			out = append(out, d)
		}
	}
	return out
}

func devices(d *Dict) []Device {
	byNode := map[string]*Device{}
	for _, e := range d.Entries {
		m := deviceKey.FindStringSubmatch(asciiLower(e.Key))
		if m == nil {
			continue
		}
		c, _ := strconv.Atoi(m[2])
		u, _ := strconv.Atoi(m[3])
		node := m[1] + strconv.Itoa(c) + ":" + strconv.Itoa(u)
		if _, ok := byNode[node]; !ok {
			byNode[node] = &Device{Node: node, Bus: Bus(m[1]), Controller: c, Unit: u}
		}
	}
	out := make([]Device, 0, len(byNode))
	for _, dev := range byNode {
		ctrl := string(dev.Bus) + strconv.Itoa(dev.Controller)
		// Read by the canonical node; keys are case-insensitive, and
		// "scsi00:1" is not a spelling VMware writes.
		dev.DeviceType = d.String(dev.Node + ".deviceType")
		dev.FileName = d.String(dev.Node + ".fileName")
		dev.Mode = d.String(dev.Node + ".mode")
		p, ok := d.Bool(dev.Node + ".present")
		dev.Present = ok && p
		cp, ok := d.Bool(ctrl + ".present")
		dev.ControllerPresent = ok && cp || dev.Bus == BusIDE && !ok
		dev.Kind = deviceKind(dev.DeviceType, dev.FileName)
		out = append(out, *dev)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Bus != b.Bus {
			return busOrder[a.Bus] < busOrder[b.Bus]
		}
		if a.Controller != b.Controller {
			return a.Controller < b.Controller
		}
		return a.Unit < b.Unit
	})
	return out
}

func deviceKind(deviceType, fileName string) DeviceKind {
	t := strings.ToLower(deviceType)
	switch {
	case strings.Contains(t, "cdrom"):
		return KindCDROM
	case strings.Contains(t, "passthru"), strings.Contains(t, "passthrough"):
		return KindPassthrough
	case fileName == "":
		return KindOther
	case t == "" && strings.HasSuffix(strings.ToLower(fileName), ".iso"):
		return KindCDROM
	case t == "" || strings.Contains(t, "disk"):
		return KindDisk
	}
	return KindOther
}
