package esxi

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// vim-cmd builders. vim-cmd takes positional arguments only; the vmid is an
// int, so only snapshot names and descriptions need checking.

// CmdGetAllVMs lists registered VMs (parse with [ParseGetAllVMs]).
func CmdGetAllVMs() string { return "vim-cmd vmsvc/getallvms" }

// CmdPowerGetState asks for a VM's power state (parse with [ParsePowerState]).
func CmdPowerGetState(vmid int) string {
	return "vim-cmd vmsvc/power.getstate " + strconv.Itoa(vmid)
}

// CmdGetConfig dumps a VM's configuration (parse the file locations with
// [ParseConfigFiles]).
func CmdGetConfig(vmid int) string {
	return "vim-cmd vmsvc/get.config " + strconv.Itoa(vmid)
}

// CmdSnapshotGet prints a VM's snapshot tree (parse with [ParseSnapshotTree]).
func CmdSnapshotGet(vmid int) string {
	return "vim-cmd vmsvc/snapshot.get " + strconv.Itoa(vmid)
}

// CmdSnapshotCreate takes a snapshot: snapshot.create vmid name description
// includeMemory quiesced, the last two as 1 or 0. The name must be non-empty
// (our snapshot is found again by its unique name); neither name nor
// description may hold control characters or start with "-".
func CmdSnapshotCreate(vmid int, name, desc string, memory, quiesce bool) (string, error) {
	const cmd = "snapshot.create"
	qn, err := quoteName(cmd, "snapshot name", name)
	if err != nil {
		return "", err
	}
	if err := checkLine(cmd, "snapshot description", desc); err != nil {
		return "", err
	}
	if desc != "" && desc[0] == '-' {
		return "", argErr(cmd, "snapshot description", desc, "starts with '-' and would be read as an option")
	}
	return fmt.Sprintf("vim-cmd vmsvc/snapshot.create %d %s %s %s %s",
		vmid, qn, Quote(desc), bit(memory), bit(quiesce)), nil
}

// CmdSnapshotRemove removes one snapshot by id (snapshot.remove vmid
// snapshotId, the syntax of ESXi 5.5 and later). There is no builder for
// snapshot.removeall on purpose: it would also consolidate the owner's
// snapshots, destroying evidence.
func CmdSnapshotRemove(vmid, snapID int) string {
	return fmt.Sprintf("vim-cmd vmsvc/snapshot.remove %d %d", vmid, snapID)
}

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// NAS mounts. esxcfg-nas -a -o HOST -s SHARE LABEL works from ESXi 5.0 to
// 8.x; vim-cmd hostsvc/datastore/nas_create changed its arguments between
// releases and is not used.

// CmdNASAdd mounts an NFSv3 share as datastore label
// (check the output with [CheckNASAdd]).
func CmdNASAdd(host, share, label string) (string, error) {
	const cmd = "esxcfg-nas -a"
	qh, qs, ql, err := nasArgs(cmd, host, share, label)
	if err != nil {
		return "", err
	}
	return "esxcfg-nas -a -o " + qh + " -s " + qs + " " + ql, nil
}

// CmdNASList lists NAS datastores (parse with [ParseNASList]).
func CmdNASList() string { return "esxcfg-nas -l" }

// CmdNASRemove unmounts datastore label (check with [CheckNASRemove]).
func CmdNASRemove(label string) (string, error) {
	ql, err := quoteLabel("esxcfg-nas -d", label)
	if err != nil {
		return "", err
	}
	return "esxcfg-nas -d " + ql, nil
}

// CmdEsxcliNFSAdd mounts an NFSv3 share with esxcli, the alternative to
// [CmdNASAdd]; it refuses a host:share that is already mounted under another
// label (see [ErrAlreadyExported]).
func CmdEsxcliNFSAdd(host, share, label string) (string, error) {
	const cmd = "esxcli storage nfs add"
	qh, qs, ql, err := nasArgs(cmd, host, share, label)
	if err != nil {
		return "", err
	}
	return "esxcli storage nfs add --host=" + qh + " --share=" + qs + " --volume-name=" + ql, nil
}

// CmdEsxcliNFSRemove unmounts datastore label with esxcli.
func CmdEsxcliNFSRemove(label string) (string, error) {
	ql, err := quoteLabel("esxcli storage nfs remove", label)
	if err != nil {
		return "", err
	}
	return "esxcli storage nfs remove --volume-name=" + ql, nil
}

func nasArgs(cmd, host, share, label string) (qh, qs, ql string, err error) {
	if qh, err = quoteName(cmd, "NFS host", host); err != nil {
		return "", "", "", err
	}
	if strings.Contains(host, " ") {
		return "", "", "", argErr(cmd, "NFS host", host, "contains a space")
	}
	if err = checkLine(cmd, "NFS share", share); err != nil {
		return "", "", "", err
	}
	if !strings.HasPrefix(share, "/") {
		return "", "", "", argErr(cmd, "NFS share", share, "is not an absolute export path")
	}
	if ql, err = quoteLabel(cmd, label); err != nil {
		return "", "", "", err
	}
	return qh, Quote(share), ql, nil
}

// quoteLabel validates a datastore label: it becomes /vmfs/volumes/LABEL, so
// it may not contain "/" or be "." or "..".
func quoteLabel(cmd, label string) (string, error) {
	ql, err := quoteName(cmd, "datastore label", label)
	if err != nil {
		return "", err
	}
	if label == "." || label == ".." {
		return "", argErr(cmd, "datastore label", label, "is not a directory name")
	}
	if strings.Contains(label, "/") {
		return "", argErr(cmd, "datastore label", label, "contains '/'")
	}
	return ql, nil
}

// Formatter selects esxcli's output format.
type Formatter string

// esxcli formatters. FormatCSV is the one to parse ([ParseCSV]); the default
// human format ([ParseEsxcliText]) is for logs and recorded output.
const (
	FormatDefault  Formatter = ""
	FormatCSV      Formatter = "csv"
	FormatKeyValue Formatter = "keyvalue"
	FormatXML      Formatter = "xml"
)

// esxcliWord matches esxcli namespace and command words, which are left
// unquoted so that logged commands read naturally; anything else is quoted.
var esxcliWord = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// CmdEsxcli builds esxcli [--formatter=F] ARGS..., e.g.
// CmdEsxcli(FormatCSV, "storage", "filesystem", "list").
func CmdEsxcli(f Formatter, args ...string) (string, error) {
	switch f {
	case FormatDefault, FormatCSV, FormatKeyValue, FormatXML:
	default:
		return "", argErr("esxcli", "formatter", string(f), "is not csv, keyvalue or xml")
	}
	if len(args) == 0 {
		return "", argErr("esxcli", "arguments", "", "are empty")
	}
	s := "esxcli"
	if f != FormatDefault {
		s += " --formatter=" + string(f)
	}
	for _, a := range args {
		if err := checkText("esxcli", "argument", a); err != nil {
			return "", err
		}
		if esxcliWord.MatchString(a) {
			s += " " + a
		} else {
			s += " " + Quote(a)
		}
	}
	return s, nil
}

// CmdVmkfstoolsQuery asks whether a disk descriptor is a raw device mapping
// and which device it maps (parse with [ParseVmkfstoolsQuery]).
func CmdVmkfstoolsQuery(path string) (string, error) {
	q, err := quotePath("vmkfstools -q", "disk", path)
	if err != nil {
		return "", err
	}
	return "vmkfstools -q " + q, nil
}

// CmdVMwareVersion prints version, build and update on two lines (parse with
// [ParseVMwareVersion]).
func CmdVMwareVersion() string { return "vmware -vl" }

// CmdLsusb lists USB devices on the host (parse with [ParseLsusb]).
func CmdLsusb() string { return "lsusb" }
