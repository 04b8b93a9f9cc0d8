package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// labBanner is what esxsink-lab prints when it is up, as a trainee reads
// it: for a fleet scenario the vCenter's block (vcenter:, user:,
// password:, thumbprint:), then one block per host, each starting
// "simulated ESXi host NAME"; a single-host lab prints one host block.
type labBanner struct {
	text    string
	vcenter labVCenter // empty for a single host
	hosts   []labHostInfo
}

type labVCenter struct{ url, user, password, thumbprint string }

type labHostInfo struct {
	name, addr, port, user, password, hostKey string
	// ssh is the "ssh:" line of a fleet's host ("running (policy on),
	// lockdown disabled"); empty for a single host.
	ssh string
}

// parseLabBanner reads every block of the lab's banner; each field is
// read from its own block, never from another host's.
func parseLabBanner(text string) (labBanner, error) {
	b := labBanner{text: text}
	blocks := strings.Split(text, "simulated ESXi host ")
	if len(blocks) < 2 {
		return b, fmt.Errorf("no \"simulated ESXi host\" in the lab's banner:\n%s", text)
	}
	if strings.Contains(blocks[0], "vcenter:") {
		b.vcenter = labVCenter{url: bannerField(blocks[0], "vcenter"), user: bannerField(blocks[0], "user"),
			password: bannerField(blocks[0], "password"), thumbprint: bannerField(blocks[0], "thumbprint")}
		if b.vcenter.url == "" || b.vcenter.password == "" || b.vcenter.thumbprint == "" {
			return b, fmt.Errorf("the vCenter's block lacks vcenter:, password: or thumbprint:\n%s", blocks[0])
		}
	}
	for _, block := range blocks[1:] {
		h := labHostInfo{name: strings.Fields(block)[0], addr: bannerField(block, "host"), port: bannerField(block, "port"),
			user: bannerField(block, "user"), password: bannerField(block, "password"), ssh: bannerLine(block, "ssh")}
		if m := regexp.MustCompile(`(?m)^\s*host key:\s+(SHA256:[A-Za-z0-9+/]+)`).FindStringSubmatch(block); m != nil {
			h.hostKey = m[1]
		}
		if h.password == "" || h.hostKey == "" {
			return b, fmt.Errorf("host %s's block lacks the password or host key:\n%s", h.name, block)
		}
		b.hosts = append(b.hosts, h)
	}
	return b, nil
}

// host returns the block of the host named name, or nil.
func (b labBanner) host(name string) *labHostInfo {
	for i := range b.hosts {
		if b.hosts[i].name == name {
			return &b.hosts[i]
		}
	}
	return nil
}

// bannerField is the first word after "name:" at the start of a line of
// block, or "".
func bannerField(block, name string) string {
	f := strings.Fields(bannerLine(block, name))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// bannerLine is the rest of the line starting "name:" in block, or "".
func bannerLine(block, name string) string {
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `:[ \t]+(.+)$`).FindStringSubmatch(block)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// TestParseLabBanner: a fleet's banner gives the vCenter's password and
// each host's own password and key, not the first one printed.
func TestParseLabBanner(t *testing.T) {
	t.Parallel()
	fleet := `simulated vCenter vcsa01 (VMware vCenter Server 8.0.2 build-22385739) from x.yaml
  vcenter:    https://127.0.0.1:36865/sdk
  user:       administrator@vsphere.local
  password:   Lab-vCenter-1!
  thumbprint: 68:0F:A2:21:F2:96
simulated ESXi host esx01 (VMware ESXi 8.0.2 build-22380479) from x.yaml
  host:     127.0.0.11
  port:     33015
  user:     root
  password: Esx-One!
  host key: SHA256:XAVcOXHel3hTxTBuAyeO5DzqxoxV9zfp73qBt/Ngulo (ecdsa-sha2-nistp256)
  ssh:      stopped (policy off), lockdown disabled
connect with:
  ssh -p 33015 root@127.0.0.11
simulated ESXi host esx02 (VMware ESXi 8.0.2 build-22380479) from x.yaml
  host:     127.0.0.12
  port:     33015
  user:     root
  password: Esx-Two!
  host key: SHA256:zKw71kzvRE4BB0P3qzXZCviewRTjvGLV4dVRvtu7FOU (ecdsa-sha2-nistp256)
  ssh:      running (policy on), lockdown normal
press Ctrl-C to stop
`
	b, err := parseLabBanner(fleet)
	if err != nil {
		t.Fatal(err)
	}
	if b.vcenter != (labVCenter{"https://127.0.0.1:36865/sdk", "administrator@vsphere.local", "Lab-vCenter-1!", "68:0F:A2:21:F2:96"}) {
		t.Errorf("vCenter %+v", b.vcenter)
	}
	two := b.host("esx02")
	if len(b.hosts) != 2 || two == nil || two.password != "Esx-Two!" || two.addr != "127.0.0.12" || two.hostKey != "SHA256:zKw71kzvRE4BB0P3qzXZCviewRTjvGLV4dVRvtu7FOU" ||
		two.ssh != "running (policy on), lockdown normal" || b.hosts[0].password != "Esx-One!" {
		t.Errorf("hosts %+v", b.hosts)
	}
	single, err := parseLabBanner("simulated ESXi host esx-train01 (VMware ESXi 8.0.2) from t.yaml\n  host:     127.0.0.1\n  port:     2222\n  user:     root\n  password: Training-2024!\n  host key: SHA256:abc (ecdsa-sha2-nistp256)\npress Ctrl-C to stop\n")
	if err != nil || single.vcenter != (labVCenter{}) || len(single.hosts) != 1 || single.hosts[0].password != "Training-2024!" {
		t.Errorf("single host: %+v %v", single, err)
	}
	if _, err := parseLabBanner("simulated ESXi host x\n  host key: SHA256:abc\n"); err == nil {
		t.Error("a block without a password was accepted")
	}
}
