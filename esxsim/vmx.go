package esxsim

import (
	"fmt"
	"strings"
)

// vmxEscape escapes a .vmx value as ESXi writes it: |XX hex for the
// quote, the bar and control characters.
func vmxEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '|' || c < 0x20 || c == 0x7f {
			fmt.Fprintf(&b, "|%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// vmxKV is one key = "value" line.
type vmxKV struct{ k, v string }

// vmxText renders a VM's configuration file.
func (v *vm) vmxText() string {
	s := v.spec
	kv := []vmxKV{
		{".encoding", "UTF-8"},
		{"config.version", "8"},
		{"virtualHW.version", fmt.Sprint(s.HWVersion)},
		{"vmci0.present", "TRUE"},
		{"floppy0.present", "FALSE"},
		{"numvcpus", fmt.Sprint(s.CPUs)},
		{"memSize", fmt.Sprint(s.MemoryMB)},
		{"tools.upgrade.policy", "manual"},
		{"sched.cpu.units", "mhz"},
		{"vm.createDate", fmt.Sprint(v.created.UnixMicro())},
		{"scsi0.virtualDev", "lsilogic"},
		{"scsi0.present", "TRUE"},
	}
	for _, d := range v.disks {
		kv = append(kv,
			vmxKV{d.node + ".deviceType", "scsi-hardDisk"},
			vmxKV{d.node + ".fileName", d.running()},
			vmxKV{"sched." + d.node + ".shares", "normal"},
			vmxKV{"sched." + d.node + ".throughputCap", "off"},
			vmxKV{d.node + ".present", "TRUE"},
		)
		if strings.HasPrefix(d.spec.Kind, "independent-") {
			kv = append(kv, vmxKV{d.node + ".mode", d.spec.Kind})
		}
	}
	kv = append(kv,
		vmxKV{"ethernet0.virtualDev", "vmxnet3"},
		vmxKV{"ethernet0.networkName", "VM Network"},
		vmxKV{"ethernet0.addressType", "generated"},
		vmxKV{"ethernet0.generatedAddress", v.mac()},
		vmxKV{"ethernet0.present", "TRUE"},
		vmxKV{"displayName", s.Name},
		vmxKV{"guestOS", s.GuestOS},
		vmxKV{"toolScripts.afterPowerOn", "TRUE"},
		vmxKV{"toolScripts.afterResume", "TRUE"},
		vmxKV{"toolScripts.beforeSuspend", "TRUE"},
		vmxKV{"toolScripts.beforePowerOff", "TRUE"},
		vmxKV{"uuid.bios", s.UUID},
		vmxKV{"uuid.location", spacedUUID(hexOf(stableHash("loc", s.Name, v.dir), 32))},
		vmxKV{"nvram", v.base + ".nvram"},
		vmxKV{"svga.present", "TRUE"},
		vmxKV{"pciBridge0.present", "TRUE"},
		vmxKV{"pciBridge4.present", "TRUE"},
		vmxKV{"pciBridge4.virtualDev", "pcieRootPort"},
		vmxKV{"pciBridge4.functions", "8"},
		vmxKV{"hpet0.present", "TRUE"},
		vmxKV{"sched.cpu.latencySensitivity", "normal"},
		vmxKV{"migrate.hostLog", fmt.Sprintf("%s-%s.hlog", v.base, hexOf(stableHash("hlog", v.dir), 8))},
		vmxKV{"sched.swap.derivedName", v.dir + "/" + v.swapName()},
	)
	if s.Annotation != "" {
		kv = append(kv, vmxKV{"annotation", s.Annotation})
	}
	for _, d := range v.disks {
		kv = append(kv, vmxKV{d.node + ".redo", ""})
	}
	kv = append(kv, vmxKV{"cleanShutdown", map[bool]string{true: "FALSE", false: "TRUE"}[v.power == "on"]})
	var b strings.Builder
	for _, e := range kv {
		fmt.Fprintf(&b, "%s = \"%s\"\n", e.k, vmxEscape(e.v))
	}
	return b.String()
}

func (v *vm) mac() string {
	h := hexOf(stableHash("mac", v.dir), 6)
	return "00:0c:29:" + h[0:2] + ":" + h[2:4] + ":" + h[4:6]
}

// swapName is the VM's swap file, created at power-on.
func (v *vm) swapName() string {
	return fmt.Sprintf("%s-%s.vswp", v.base, hexOf(stableHash("vswp", v.dir), 8))
}
