package esxsim

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// dynContent renders its bytes on every read (logs, esx.conf).
type dynContent struct{ fn func() []byte }

func (d dynContent) Size() int64 { return int64(len(d.fn())) }
func (d dynContent) ReadAt(p []byte, off int64) (int, error) {
	b := d.fn()
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// sbinCommands live in /sbin on ESXi; everything else in /bin.
var sbinCommands = map[string]bool{"esxcli": true, "esxcfg-nas": true, "vmkfstools": true, "esxcfg-info": true}

// bootVolumes are the vfat and OSDATA volumes every ESXi 7/8 host has.
type bootVolume struct{ name, uuid, typ string }

func (h *Host) bootVolumes() []bootVolume {
	seed := h.sc.Host.Hostname
	os := vmfsUUID("osdata" + seed)
	return []bootVolume{
		{"OSDATA-" + os, os, "VMFSOS"},
		{"BOOTBANK1", vmfsUUID("bootbank1" + seed), "vfat"},
		{"BOOTBANK2", vmfsUUID("bootbank2" + seed), "vfat"},
	}
}

// build lays out the host's file tree from the scenario.
func (h *Host) build() error {
	sc := h.sc
	boot := sc.Start.Add(-72 * time.Hour)
	dir := func(p string) { h.fs.put(p, &node{mode: fs.ModeDir | 0o755, mtime: boot}) }
	for _, p := range []string{"/bin", "/sbin", "/etc/vmware", "/tmp", "/var/log", "/var/run", "/vmfs/volumes", "/vmfs/devices/disks", "/dev", "/scratch", "/opt"} {
		dir(p)
	}
	h.fs.put("/dev/null", &node{mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, mtime: boot, data: nullDev{}})
	h.fs.put("/dev/zero", &node{mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, mtime: boot, data: zeroDev{}})
	h.fs.put("/dev/urandom", &node{mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, mtime: boot, data: newGen(1<<40, uint64(time.Now().UnixNano()), 0, nil)})
	for _, name := range commandNames {
		if sc.Options.missing(name) {
			continue
		}
		p := "/bin/" + name
		if sbinCommands[name] {
			p = "/sbin/" + name
		}
		h.fs.put(p, &node{mode: 0o755, mtime: boot, data: newMem(nil, []byte("\x7fELF"))})
	}
	host := sc.Host
	h.put("/etc/motd", 0o644, boot, []byte(motd))
	h.fs.put("/etc/vmware/esx.conf", &node{mode: 0o644, mtime: boot, data: dynContent{h.esxConf}})
	h.put("/etc/hosts", 0o644, boot, []byte(fmt.Sprintf("127.0.0.1\tlocalhost.localdomain localhost\n%s\t%s\n", host.Address, host.Hostname)))
	h.fs.put("/var/log/shell.log", &node{mode: 0o644, mtime: boot, data: dynContent{func() []byte { return []byte(h.foot.shellLog()) }}})
	h.fs.put("/var/log/vmkernel.log", &node{mode: 0o644, mtime: boot, data: dynContent{func() []byte { return []byte(h.foot.kernelLog()) }}})
	h.fs.put("/var/log/hostd.log", &node{mode: 0o644, mtime: boot, data: dynContent{func() []byte { return []byte(h.foot.hostdText()) }}})
	h.put("/var/run/bootTime", 0o644, boot, []byte(fmt.Sprintf("%d\n", boot.Unix())))

	// Devices: the boot disk, the scenario's LUNs and USB disks.
	devs := append([]DeviceSpec{{ID: "t10.NVMe____ESXSIM_Boot_SSD_______________________" + strings.ToUpper(hexOf(stableHash("boot", host.Hostname), 16)),
		Kind: "local", Vendor: "NVMe", Model: "ESXSIM Boot SSD", Size: 256 << 30, SSD: true,
		Partitions: []Size{4 << 20, 4 << 30, 4 << 30, 100 << 30}}}, sc.Devices...)
	for i := range devs {
		d := &devs[i]
		if d.Seed == 0 {
			d.Seed = stableHash("device", d.ID)
		}
		if d.VML == "" {
			d.VML = vmlOf(d.ID)
		}
		data, err := h.deviceGen(*d)
		if err != nil {
			return err
		}
		dev := &device{spec: *d, data: data}
		h.devs = append(h.devs, dev)
		base := "/vmfs/devices/disks/" + d.ID
		h.fs.put(base, &node{mode: 0o600, mtime: boot, data: dev.data, blockDev: true})
		h.fs.put("/vmfs/devices/disks/"+d.VML, &node{mode: fs.ModeSymlink | 0o777, mtime: boot, target: d.ID})
		off := int64(2048 * 512)
		for j, ps := range d.Partitions {
			part := fmt.Sprintf("%s:%d", d.ID, j+1)
			n := min(int64(ps), int64(d.Size)-off)
			if n <= 0 {
				break
			}
			h.fs.put("/vmfs/devices/disks/"+part, &node{mode: 0o600, mtime: boot, data: sliceContent{dev.data, off, n}, blockDev: true})
			h.fs.put(fmt.Sprintf("/vmfs/devices/disks/%s:%d", d.VML, j+1), &node{mode: fs.ModeSymlink | 0o777, mtime: boot, target: part})
			off += n
		}
	}
	for _, bv := range h.bootVolumes() {
		dir("/vmfs/volumes/" + bv.uuid)
		h.fs.put("/vmfs/volumes/"+bv.name, &node{mode: fs.ModeSymlink | 0o755, mtime: boot, target: bv.uuid})
	}
	for _, ds := range sc.Datastores {
		p := "/vmfs/volumes/" + ds.UUID
		h.fs.put("/vmfs/volumes/"+ds.Name, &node{mode: fs.ModeSymlink | 0o755, mtime: boot, target: ds.UUID})
		h.dss = append(h.dss, &datastore{spec: ds, path: p})
		if root := h.cfg.fleet.volume(ds); root != nil {
			// Another host of the fleet made it: the same nodes, so
			// both see every file either writes.
			h.fs.put(p, root)
			continue
		}
		root := h.fs.put(p, &node{mode: fs.ModeDir | 0o755, mtime: boot})
		h.cfg.fleet.addVolume(ds, root)
		for _, f := range []string{".sdd.sf", ".fbb.sf", ".fdc.sf", ".pbc.sf", ".sbc.sf", ".vh.sf"} {
			h.fs.put(p+"/"+f, &node{mode: 0o400, mtime: boot, data: emptyContent{}})
		}
	}
	h.recorded = map[string]Recorded{}
	for _, r := range sc.Recorded {
		if r.StdoutFile != "" {
			b, err := os.ReadFile(filepath.Join(sc.Dir, r.StdoutFile))
			if err != nil {
				return fmt.Errorf("recorded output for %q: %w", r.Command, err)
			}
			r.Stdout = string(b)
		}
		h.recorded[r.Command] = r
	}
	for _, v := range sc.VMs {
		if err := h.buildVM(v); err != nil {
			return err
		}
	}
	h.buildTriageFiles(boot)
	for _, f := range sc.Files {
		h.put(h.canonPath(f.Path), 0o644, boot, []byte(f.Content))
	}
	return nil
}

// motd is the ESXi 7/8 shell banner shown to interactive logins.
const motd = `The time and date of this login have been sent to the system logs.

WARNING:
   All commands run on the ESXi shell are logged and may be included in
   support bundles. Do not provide passwords directly on the command line.
   Most tools can prompt for secrets or accept them from standard input.

VMware offers powerful and supported automation tools. Please
see https://developer.vmware.com for details.

The ESXi Shell can be disabled by an administrative user. See the
vSphere Security documentation for more information.
`

// esxConf renders /etc/vmware/esx.conf's NAS entries and identity.
func (h *Host) esxConf() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "/adv/Misc/HostName = \"%s\"\n", h.sc.Host.Hostname)
	for _, m := range h.mountList() {
		fmt.Fprintf(&b, "/nas/%s/enabled = \"true\"\n/nas/%s/host = \"%s\"\n/nas/%s/readOnly = \"%v\"\n/nas/%s/share = \"%s\"\n",
			m.label, m.label, m.host, m.label, m.readOnly, m.label, m.share)
	}
	fmt.Fprintf(&b, "/system/uuid = \"%s\"\n", vmfsUUID("system"+h.sc.Host.Hostname))
	return []byte(b.String())
}
