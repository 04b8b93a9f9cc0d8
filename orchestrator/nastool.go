package orchestrator

import (
	"fmt"
	"strings"

	"github.com/esxsink/esxsink/esxi"
)

// nasTool is the host command that mounts and detaches the sink:
// esxcfg-nas where the host has it (5.0 to 8.x), else esxcli storage nfs.
type nasTool string

const (
	nasEsxcfg nasTool = "esxcfg-nas"
	nasEsxcli nasTool = "esxcli"
)

func (n nasTool) add(host, share, label string) (string, error) {
	if n == nasEsxcli {
		return esxi.CmdEsxcliNFSAdd(host, share, label)
	}
	return esxi.CmdNASAdd(host, share, label)
}

func (n nasTool) remove(label string) (string, error) {
	if n == nasEsxcli {
		return esxi.CmdEsxcliNFSRemove(label)
	}
	return esxi.CmdNASRemove(label)
}

func (n nasTool) list() string {
	if n == nasEsxcli {
		cmd, _ := esxi.CmdEsxcli(esxi.FormatCSV, "storage", "nfs", "list")
		return cmd
	}
	return esxi.CmdNASList()
}

// parseList reads either tool's list as esxcfg-nas mounts.
func (n nasTool) parseList(out string) ([]esxi.NASMount, error) {
	if n != nasEsxcli {
		return esxi.ParseNASList(out)
	}
	recs, err := esxi.ParseCSV(out)
	if err != nil {
		return nil, err
	}
	vols, err := esxi.NFSVolumes(recs)
	if err != nil {
		return nil, err
	}
	mounts := make([]esxi.NASMount, 0, len(vols))
	for _, v := range vols {
		st := "unmounted"
		if v.Mounted {
			st = "mounted"
		}
		if v.Accessible {
			st += " available"
		}
		mounts = append(mounts, esxi.NASMount{Label: v.VolumeName, Host: v.Host, Share: v.Share, Mounted: v.Mounted, Available: v.Accessible, Status: st})
	}
	return mounts, nil
}

// checkAdd judges the add command's output: esxcfg-nas prints a
// confirmation, esxcli nothing when it worked.
func (n nasTool) checkAdd(out, label string) error {
	if n != nasEsxcli {
		return esxi.CheckNASAdd(out, label)
	}
	return quietOrClassified("esxcli storage nfs add", out)
}

func (n nasTool) checkRemove(out, label string) error {
	if n != nasEsxcli {
		return esxi.CheckNASRemove(out, label)
	}
	return quietOrClassified("esxcli storage nfs remove", out)
}

func quietOrClassified(cmd, out string) error {
	if strings.TrimSpace(out) == "" {
		return nil
	}
	if err := esxi.Classify(out); err != nil {
		return err
	}
	return fmt.Errorf("%s printed %q", cmd, clip(strings.TrimSpace(out)))
}
