package esxi

import (
	"strconv"
	"strings"
)

// Typed views of the esxcli commands discovery runs. Each takes records
// from any of the parsers ([ParseCSV], [ParseEsxcliText], [ParseXML],
// [ParseKeyValue]) and fails on a record that lacks a field it needs, naming
// the record (1-based) and the field.

// VMProcess is one running VM (esxcli vm process list).
type VMProcess struct {
	DisplayName string
	ConfigFile  string // absolute .vmx path
	WorldID     int64  // for esxcli vm process kill; never used by esxsink
	ProcessID   int64
	VMXCartelID int64
	UUID        string
}

// VMProcesses reads esxcli vm process list.
func VMProcesses(recs []Record) ([]VMProcess, error) {
	const src = "esxcli vm process list"
	out := make([]VMProcess, 0, len(recs))
	for i, r := range recs {
		f := fields{src: src, rec: i + 1, r: r}
		p := VMProcess{
			DisplayName: f.str("Display Name", false),
			ConfigFile:  f.str("Config File", true),
			WorldID:     f.int("World ID", true),
			ProcessID:   f.int("Process ID", false),
			VMXCartelID: f.int("VMX Cartel ID", false),
			UUID:        f.str("UUID", false),
		}
		if p.DisplayName == "" {
			p.DisplayName = r[TitleKey]
		}
		if f.err != nil {
			return nil, f.err
		}
		out = append(out, p)
	}
	return out, nil
}

// Filesystem is one mounted volume (esxcli storage filesystem list).
type Filesystem struct {
	MountPoint string // /vmfs/volumes/UUID
	VolumeName string // the label; "" for some vfat partitions
	UUID       string
	Mounted    bool
	Type       string // VMFS-5, VMFS-6, VMFSOS, vfat, NFS, NFS41, vsan ...
	Size, Free int64  // bytes
}

// Filesystems reads esxcli storage filesystem list.
func Filesystems(recs []Record) ([]Filesystem, error) {
	const src = "esxcli storage filesystem list"
	out := make([]Filesystem, 0, len(recs))
	for i, r := range recs {
		f := fields{src: src, rec: i + 1, r: r}
		fs := Filesystem{
			MountPoint: f.str("Mount Point", true),
			VolumeName: f.str("Volume Name", false),
			UUID:       f.str("UUID", false),
			Mounted:    f.bool("Mounted", true),
			Type:       f.str("Type", true),
			Size:       f.int("Size", false),
			Free:       f.int("Free", false),
		}
		if f.err != nil {
			return nil, f.err
		}
		out = append(out, fs)
	}
	return out, nil
}

// NFSVolume is one NFSv3 datastore (esxcli storage nfs list).
type NFSVolume struct {
	VolumeName string
	Host       string
	Share      string
	Accessible bool
	Mounted    bool
	// ReadOnly and IsPE are nil on versions without the column (5.x).
	ReadOnly             *bool
	IsPE                 *bool
	HardwareAcceleration string
}

// NFSVolumes reads esxcli storage nfs list.
func NFSVolumes(recs []Record) ([]NFSVolume, error) {
	const src = "esxcli storage nfs list"
	out := make([]NFSVolume, 0, len(recs))
	for i, r := range recs {
		f := fields{src: src, rec: i + 1, r: r}
		v := NFSVolume{
			VolumeName:           f.str("Volume Name", true),
			Host:                 f.str("Host", true),
			Share:                f.str("Share", true),
			Accessible:           f.bool("Accessible", false),
			Mounted:              f.bool("Mounted", true),
			ReadOnly:             f.optBool("Read-Only"),
			IsPE:                 f.optBool("isPE"),
			HardwareAcceleration: f.str("Hardware Acceleration", false),
		}
		if f.err != nil {
			return nil, f.err
		}
		out = append(out, v)
	}
	return out, nil
}

// CoreDevice is one storage device (esxcli storage core device list): a
// local disk, a LUN behind an RDM, a USB stick.
type CoreDevice struct {
	Device       string // naa.*, t10.*, mpx.*, eui.*
	DisplayName  string
	SizeMB       int64 // esxcli prints MiB
	DeviceType   string
	DevfsPath    string // /vmfs/devices/disks/DEVICE
	Vendor       string
	Model        string
	IsLocal      bool
	IsRemovable  bool
	IsSSD        bool
	IsRDMCapable bool
	IsUSB        *bool // nil on versions without the field
	IsBootDevice *bool
	// OtherUIDs are the device's other names, the vml.* identifiers that
	// vmkfstools -q reports for an RDM.
	OtherUIDs []string
	Status    string
}

// CoreDevices reads esxcli storage core device list.
func CoreDevices(recs []Record) ([]CoreDevice, error) {
	const src = "esxcli storage core device list"
	out := make([]CoreDevice, 0, len(recs))
	for i, r := range recs {
		f := fields{src: src, rec: i + 1, r: r}
		d := CoreDevice{
			Device:       f.str("Device", false),
			DisplayName:  f.str("Display Name", false),
			SizeMB:       f.int("Size", true),
			DeviceType:   f.str("Device Type", false),
			DevfsPath:    f.str("Devfs Path", false),
			Vendor:       f.str("Vendor", false),
			Model:        f.str("Model", false),
			IsLocal:      f.bool("Is Local", false),
			IsRemovable:  f.bool("Is Removable", false),
			IsSSD:        f.bool("Is SSD", false),
			IsRDMCapable: f.bool("Is RDM Capable", false),
			IsUSB:        f.optBool("Is USB"),
			IsBootDevice: f.optBool("Is Boot Device"),
			Status:       f.str("Status", false),
		}
		if d.Device == "" {
			d.Device = r[TitleKey]
		}
		if d.Device == "" && f.err == nil {
			f.err = parseErr(src, 0, "record %d has no device name", i+1)
		}
		for _, u := range strings.FieldsFunc(f.str("Other UIDs", false), func(c rune) bool { return c == ',' || c == ' ' }) {
			d.OtherUIDs = append(d.OtherUIDs, u)
		}
		if f.err != nil {
			return nil, f.err
		}
		out = append(out, d)
	}
	return out, nil
}

// SystemVersion reads esxcli system version get (one record). Build
// "Releasebuild-8294253" becomes 8294253; a missing Patch (5.5) is -1.
func SystemVersion(recs []Record) (HostVersion, error) {
	const src = "esxcli system version get"
	v := HostVersion{Update: -1, Patch: -1}
	if len(recs) != 1 {
		return v, parseErr(src, 0, "want one record, got %d", len(recs))
	}
	f := fields{src: src, rec: 1, r: recs[0]}
	v.Product = f.str("Product", true)
	ver := f.str("Version", true)
	build := f.str("Build", true)
	v.Update = int(f.intOr("Update", -1))
	v.Patch = int(f.intOr("Patch", -1))
	if f.err != nil {
		return v, f.err
	}
	if err := v.setVersion(ver); err != nil {
		return v, parseErr(src, 0, "%v", err)
	}
	digits := build[strings.LastIndexByte(build, '-')+1:]
	b, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || b < 0 {
		return v, parseErr(src, 0, "Build %q does not end in a build number", clip(build))
	}
	v.Build = b
	return v, nil
}

// Hostname is esxcli system hostname get.
type Hostname struct {
	HostName   string
	DomainName string // often ""
	FQDN       string
}

// SystemHostname reads esxcli system hostname get (one record).
func SystemHostname(recs []Record) (Hostname, error) {
	const src = "esxcli system hostname get"
	if len(recs) != 1 {
		return Hostname{}, parseErr(src, 0, "want one record, got %d", len(recs))
	}
	f := fields{src: src, rec: 1, r: recs[0]}
	h := Hostname{
		HostName:   f.str("Host Name", true),
		DomainName: f.str("Domain Name", false),
		FQDN:       f.str("Fully Qualified Domain Name", false),
	}
	return h, f.err
}

// fields reads typed values out of one record, keeping the first error.
type fields struct {
	src string
	rec int
	r   Record
	err error
}

func (f *fields) fail(field, format string, args ...any) {
	if f.err == nil {
		f.err = parseErr(f.src, 0, "record %d: field %q: "+format, append([]any{f.rec, field}, args...)...)
	}
}

func (f *fields) str(name string, required bool) string {
	v, ok := f.r.Lookup(name)
	if required && (!ok || v == "") {
		f.fail(name, "missing")
	}
	return v
}

func (f *fields) int(name string, required bool) int64 {
	v := f.str(name, required)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		f.fail(name, "%q is not an integer", clip(v))
	}
	return n
}

func (f *fields) intOr(name string, def int64) int64 {
	if v, ok := f.r.Lookup(name); !ok || v == "" {
		return def
	}
	return f.int(name, false)
}

func (f *fields) bool(name string, required bool) bool {
	v := f.str(name, required)
	switch strings.ToLower(v) {
	case "true":
		return true
	case "false", "":
		return false
	}
	f.fail(name, "%q is not true or false", clip(v))
	return false
}

func (f *fields) optBool(name string) *bool {
	if v, ok := f.r.Lookup(name); !ok || v == "" {
		return nil
	}
	b := f.bool(name, false)
	return &b
}
