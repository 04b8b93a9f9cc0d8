package esxsim

import (
	"fmt"
	"net"
	"strings"
)

// The esxcli namespaces a host triage reads (esxi.TriageCommands): the
// host's accounts, software, settings and network. Values are invented
// but shaped like ESXi 7/8 output; the scenario's VMs, mounts and the
// caller's own SSH session show up where a real host would show them.
var esxcliTriageCmds = map[string]esxcliCmd{
	"system account list":                     esxcliAccountList,
	"system permission list":                  esxcliPermissionList,
	"software vib list":                       esxcliVibList,
	"software acceptance get":                 esxcliAcceptanceGet,
	"system settings advanced list":           esxcliAdvancedList,
	"system settings kernel list":             esxcliKernelList,
	"system syslog config get":                esxcliSyslogConfig,
	"system module list":                      esxcliModuleList,
	"network ip interface list":               esxcliInterfaceList,
	"network ip interface ipv4 get":           esxcliIPv4Get,
	"network ip connection list":              esxcliConnectionList,
	"network ip neighbor list":                esxcliNeighborList,
	"network firewall get":                    esxcliFirewallGet,
	"network firewall ruleset list":           esxcliRulesetList,
	"network firewall ruleset allowedip list": esxcliAllowedIPList,
	"network vm list":                         esxcliNetworkVMList,
}

// table builds a table-formatted list from rows of fields.
func table(typ string, rows ...[]esxField) esxResult {
	res := esxResult{kind: "list", table: true}
	for _, r := range rows {
		res.list = append(res.list, esxStruct{typeName: typ, fields: r})
	}
	return res
}

func esxcliAccountList(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	return table("UserAccount",
		[]esxField{{"User ID", "root"}, {"Description", "Administrator"}, {"Shell Access", true}},
		[]esxField{{"User ID", "dcui"}, {"Description", "DCUI User"}, {"Shell Access", false}},
		[]esxField{{"User ID", "vpxuser"}, {"Description", "VMware VirtualCenter administration account"}, {"Shell Access", false}},
	), nil
}

func esxcliPermissionList(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	row := func(p, role string) []esxField {
		return []esxField{{"Principal", p}, {"Is Group", false}, {"Role", role}, {"Role Description", "Full access rights"}}
	}
	return table("Permission", row("dcui", "Admin"), row("root", "Admin"), row("vpxuser", "Admin")), nil
}

// vibs are the host's installed VIBs: name, vendor, acceptance level.
var vibs = [][3]string{
	{"esx-base", "VMware", "VMwareCertified"},
	{"esx-ui", "VMware", "VMwareCertified"},
	{"esx-xserver", "VMware", "VMwareCertified"},
	{"native-misc-drivers", "VMware", "VMwareCertified"},
	{"nvme-pcie", "VMW", "VMwareCertified"},
	{"vmkusb", "VMW", "VMwareCertified"},
	{"vsan", "VMware", "VMwareCertified"},
	{"lsi-mr3", "BCM", "VMwareCertified"},
	{"tools-light", "VMware", "VMwareCertified"},
}

func esxcliVibList(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	h := e.h.sc.Host
	installed := e.h.sc.Start.Add(-400 * 24 * 3600 * 1e9).Format("2006-01-02")
	var rows [][]esxField
	for _, v := range vibs {
		ver := h.Version + "-0.0." + h.Build
		if v[1] != "VMware" {
			ver = "1.0.0-1vmw." + h.Version + ".0." + h.Build
		}
		rows = append(rows, []esxField{{"Name", v[0]}, {"Version", ver}, {"Vendor", v[1]}, {"Acceptance Level", v[2]},
			{"Install Date", installed}, {"Platforms", "host"}})
	}
	return table("SoftwarePackage", rows...), nil
}

func esxcliAcceptanceGet(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	return esxResult{kind: "string", str: "PartnerSupported"}, nil
}

func esxcliAdvancedList(e *env, args []string) (esxResult, error) {
	o, err := parseEsxcliOpts(args, map[string]string{"o": "option", "option": "option", "d": "delta", "delta": "delta"}, map[string]bool{"delta": true})
	if err != nil {
		return esxResult{}, err
	}
	res := esxResult{kind: "list"}
	for _, a := range e.h.advancedValues() {
		if o["option"] != "" && o["option"] != a.path {
			continue
		}
		if o["delta"] == "true" && a.val == a.def && a.str == "" {
			continue
		}
		res.list = append(res.list, esxStruct{typeName: "SettingsAdvancedOption", header: "", fields: []esxField{
			{"Path", a.path}, {"Type", a.typ}, {"Int Value", a.val}, {"Default Int Value", a.def},
			{"Min Value", a.min}, {"Max Value", a.max}, {"String Value", a.str}, {"Default String Value", ""},
			{"Valid Characters", ""}, {"Description", a.desc},
		}})
	}
	if o["option"] != "" && len(res.list) == 0 {
		return esxResult{}, fmt.Errorf("Unable to find option %s", strings.TrimPrefix(o["option"], "/"))
	}
	return res, nil
}

func esxcliKernelList(e *env, args []string) (esxResult, error) {
	o, err := parseEsxcliOpts(args, map[string]string{"o": "option", "option": "option", "d": "delta", "delta": "delta"}, map[string]bool{"delta": true})
	if err != nil {
		return esxResult{}, err
	}
	eio := "FALSE"
	if e.h.advancedInt("/VMkernel/Boot/execInstalledOnly") != 0 {
		eio = "TRUE"
	}
	rows := [][]esxField{
		{{"Name", "execInstalledOnly"}, {"Type", "Bool"}, {"Configured", eio}, {"Runtime", eio}, {"Default", "FALSE"}, {"Description", "Only allow executing binaries from installed VIBs"}},
		{{"Name", "maxVMs"}, {"Type", "uint32"}, {"Configured", "0"}, {"Runtime", "0"}, {"Default", "0"}, {"Description", "Max VMs to be run on the host"}},
	}
	var out [][]esxField
	for _, r := range rows {
		if o["option"] == "" || strings.EqualFold(o["option"], r[0].text()) {
			out = append(out, r)
		}
	}
	return table("KernelSetting", out...), nil
}

func esxcliSyslogConfig(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	remote := e.h.advancedString("/Syslog/global/logHost")
	if remote == "" {
		remote = "<none>"
	}
	return esxResult{kind: "struct", one: esxStruct{typeName: "SyslogConfig", fields: []esxField{
		{"Default Network Retry Timeout", int64(180)}, {"Dropped Log File Rotation Size", int64(100)},
		{"Dropped Log File Rotations", int64(10)}, {"Enforce SSLCertificates", true},
		{"Local Log Output", "/scratch/log"}, {"Local Log Output Is Configured", false},
		{"Local Log Output Is Persistent", true}, {"Log To Unique Subdirectory", false},
		{"Message Queue Drop Mark", int64(90)}, {"Remote Host", remote},
	}}}, nil
}

func esxcliModuleList(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	var rows [][]esxField
	for _, m := range []string{"vmkernel", "procfs", "vmkplexer", "vmklinux_9", "iscsi_trans", "nfsclient", "nfs41client", "vmfs3", "vmkusb", "nvme_pcie", "lsi_mr3", "vmw_ahci", "tcpip4", "vflash"} {
		rows = append(rows, []esxField{{"Name", m}, {"Is Loaded", true}, {"Is Enabled", true}})
	}
	return table("Module", rows...), nil
}

// mgmtMAC is the management interface's MAC, stable per host name.
func (h *Host) mgmtMAC() string {
	x := hexOf(stableHash("mac", h.sc.Host.Hostname), 6)
	return "00:50:56:" + x[0:2] + ":" + x[2:4] + ":" + x[4:6]
}

func esxcliInterfaceList(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	return esxResult{kind: "list", list: []esxStruct{{typeName: "IPInterface", header: "vmk0", fields: []esxField{
		{"Name", "vmk0"}, {"MAC Address", e.h.mgmtMAC()}, {"Enabled", true}, {"Portset", "vSwitch0"},
		{"Portgroup", "Management Network"}, {"Netstack Instance", "defaultTcpipStack"}, {"VDS Name", "N/A"},
		{"VDS UUID", "N/A"}, {"VDS Port", "N/A"}, {"VDS Connection", int64(-1)}, {"Opaque Network ID", "N/A"},
		{"Opaque Network Type", "N/A"}, {"External ID", "N/A"}, {"MTU", int64(1500)}, {"TSO MSS", int64(65535)},
		{"RXDispQueue Size", int64(2)}, {"Port ID", int64(33554436)},
	}}}}, nil
}

// hostIPv4 is the host's address (the scenario's, or a lab default).
func (h *Host) hostIPv4() string {
	if ip := net.ParseIP(h.sc.Host.Address); ip != nil && ip.To4() != nil {
		return ip.String()
	}
	return "192.168.50.10"
}

func esxcliIPv4Get(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	ip := e.h.hostIPv4()
	pre := ip[:strings.LastIndexByte(ip, '.')]
	return table("IPv4Interface", []esxField{{"Name", "vmk0"}, {"IPv4 Address", ip}, {"IPv4 Netmask", "255.255.255.0"},
		{"IPv4 Broadcast", pre + ".255"}, {"Address Type", "STATIC"}, {"Gateway", pre + ".1"}, {"DHCP DNS", false}}), nil
}

// remoteOf is the caller's address as "ip:port" (api sessions have none).
func remoteOf(s *session) (string, bool) {
	f := strings.Fields(s.remote) // SSH_CONNECTION form or host:port
	switch {
	case len(f) >= 2:
		return net.JoinHostPort(f[0], f[1]), true
	case len(f) == 1 && strings.Contains(f[0], ":"):
		return f[0], true
	}
	return "", false
}

func esxcliConnectionList(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	ip := e.h.hostIPv4()
	row := func(local, foreign, state string, world int64, name string) []esxField {
		return []esxField{{"Proto", "tcp"}, {"Recv Q", int64(0)}, {"Send Q", int64(0)}, {"Local Address", local},
			{"Foreign Address", foreign}, {"State", state}, {"World ID", world}, {"CC Algo", "newreno"}, {"World Name", name}}
	}
	rows := [][]esxField{
		row("0.0.0.0:443", "0.0.0.0:0", "LISTEN", 2099431, "rhttpproxy"),
		row("0.0.0.0:80", "0.0.0.0:0", "LISTEN", 2099431, "rhttpproxy"),
		row("0.0.0.0:22", "0.0.0.0:0", "LISTEN", 2098880, "busybox"),
		row("0.0.0.0:902", "0.0.0.0:0", "LISTEN", 2098880, "busybox"),
		row("0.0.0.0:427", "0.0.0.0:0", "LISTEN", 2099120, "slpd"),
	}
	if r, ok := remoteOf(e.s); ok {
		rows = append(rows, row(ip+":22", r, "ESTABLISHED", 2100000+e.s.id, "busybox"))
	}
	for i, m := range e.h.mountList() {
		rows = append(rows, row(fmt.Sprintf("%s:%d", ip, 1020-i), net.JoinHostPort(m.host, "2049"), "ESTABLISHED", 0, ""))
	}
	return table("IpConnection", rows...), nil
}

func esxcliNeighborList(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	ip := e.h.hostIPv4()
	row := func(n, mac string) []esxField {
		return []esxField{{"Neighbor", n}, {"Mac Address", mac}, {"Vmknic", "vmk0"}, {"Expiry", "1183 sec"}, {"State", ""}, {"Type", "Unknown"}}
	}
	rows := [][]esxField{row(ip[:strings.LastIndexByte(ip, '.')]+".1", "00:1b:21:3a:4c:01")}
	if r, ok := remoteOf(e.s); ok {
		host, _, _ := net.SplitHostPort(r)
		if host != "127.0.0.1" && host != "::1" {
			rows = append(rows, row(host, "3c:22:fb:0e:91:7d"))
		}
	}
	return table("IpNeighbor", rows...), nil
}

func esxcliFirewallGet(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	return esxResult{kind: "struct", one: esxStruct{typeName: "Firewall", fields: []esxField{
		{"Default Action", "DROP"}, {"Enabled", true}, {"Loaded", true}}}}, nil
}

// rulesets are the firewall rulesets and whether each is enabled; the NFS
// client is enabled while an NFS datastore is mounted, as ESXi does.
func (h *Host) rulesets() [][2]any {
	return [][2]any{{"sshServer", true}, {"sshClient", false}, {"nfsClient", len(h.mountList()) > 0},
		{"webAccess", true}, {"vSphereClient", true}, {"vpxHeartbeats", true}, {"CIMSLP", true}, {"syslog", false}}
}

func esxcliRulesetList(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	var rows [][]esxField
	for _, r := range e.h.rulesets() {
		rows = append(rows, []esxField{{"Name", r[0]}, {"Enabled", r[1]}})
	}
	return table("Ruleset", rows...), nil
}

func esxcliAllowedIPList(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	var rows [][]esxField
	for _, r := range e.h.rulesets() {
		rows = append(rows, []esxField{{"Ruleset", r[0]}, {"Allowed IP Addresses", "All"}})
	}
	return table("RulesetAllowedip", rows...), nil
}

func esxcliNetworkVMList(e *env, args []string) (esxResult, error) {
	if err := noOpts(args); err != nil {
		return esxResult{}, err
	}
	e.h.mu.Lock()
	defer e.h.mu.Unlock()
	var rows [][]esxField
	for _, v := range e.h.vms {
		if v.id == 0 || v.power != "on" {
			continue
		}
		rows = append(rows, []esxField{{"World ID", int64(2100000 + v.id*4117)}, {"Name", v.spec.Name}, {"Num Ports", int64(1)}, {"Networks", "VM Network"}})
	}
	return table("VM", rows...), nil
}
