package esxi

import (
	"fmt"
	"strings"
)

// NASTool is the host command that mounts and detaches an NFS datastore:
// esxcfg-nas where the host has it (5.0 to 8.x), else esxcli storage nfs.
// Its methods build that tool's commands and judge its output.
type NASTool string

// The tools a host mounts NFS datastores with.
const (
	NASEsxcfg NASTool = "esxcfg-nas"
	NASEsxcli NASTool = "esxcli"
)

// CmdAdd mounts share from host as datastore label.
func (n NASTool) CmdAdd(host, share, label string) (string, error) {
	if n == NASEsxcli {
		return CmdEsxcliNFSAdd(host, share, label)
	}
	return CmdNASAdd(host, share, label)
}

// CmdRemove detaches datastore label.
func (n NASTool) CmdRemove(label string) (string, error) {
	if n == NASEsxcli {
		return CmdEsxcliNFSRemove(label)
	}
	return CmdNASRemove(label)
}

// CmdList lists the NFS datastores; parse with [NASTool.ParseList].
func (n NASTool) CmdList() string {
	if n == NASEsxcli {
		cmd, _ := CmdEsxcli(FormatCSV, "storage", "nfs", "list")
		return cmd
	}
	return CmdNASList()
}

// ParseList reads either tool's list as esxcfg-nas mounts.
func (n NASTool) ParseList(out string) ([]NASMount, error) {
	if n != NASEsxcli {
		return ParseNASList(out)
	}
	recs, err := ParseCSV(out)
	if err != nil {
		return nil, err
	}
	vols, err := NFSVolumes(recs)
	if err != nil {
		return nil, err
	}
	mounts := make([]NASMount, 0, len(vols))
	for _, v := range vols {
		st := "unmounted"
		if v.Mounted {
			st = "mounted"
		}
		if v.Accessible {
			st += " available"
		}
		mounts = append(mounts, NASMount{Label: v.VolumeName, Host: v.Host, Share: v.Share, Mounted: v.Mounted, Available: v.Accessible, Status: st})
	}
	return mounts, nil
}

// CheckAdd judges the add command's output: esxcfg-nas prints a
// confirmation, esxcli nothing when it worked.
func (n NASTool) CheckAdd(out, label string) error {
	if n != NASEsxcli {
		return CheckNASAdd(out, label)
	}
	return quietOrClassified("esxcli storage nfs add", out)
}

// CheckRemove judges the remove command's output, as [NASTool.CheckAdd].
func (n NASTool) CheckRemove(out, label string) error {
	if n != NASEsxcli {
		return CheckNASRemove(out, label)
	}
	return quietOrClassified("esxcli storage nfs remove", out)
}

// quietOrClassified judges the output of a command that prints nothing
// when it works.
func quietOrClassified(cmd, out string) error {
	if strings.TrimSpace(out) == "" {
		return nil
	}
	if err := Classify(out); err != nil {
		return err
	}
	return fmt.Errorf("%s printed %q", cmd, clip(strings.TrimSpace(out)))
}
