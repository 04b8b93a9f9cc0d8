package orchestrator

import (
	"path"
	"strings"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxi"
)

// DevicesFolder is the top folder of whole devices: USB disks and the
// LUNs behind raw device mappings.
const DevicesFolder = "devices"

// reservedTop are the evidence folder's top folders that are not
// datastores; a datastore of such a name gets another folder (recorded in
// the table).
var reservedTop = map[string]bool{custody.HostArtifactsFolder: true, DevicesFolder: true, custody.SupersededFolder: true}

// DatastoreTable maps the host's datastores into the evidence folder: each
// gets a top folder named as the datastore (only what the workstation
// cannot store replaced), and every /vmfs/volumes path that leads to it
// (name, UUID, mount point) is listed, so a reference by any of them
// resolves in the case.
func DatastoreTable(fss []esxi.Filesystem) []custody.Datastore {
	var out []custody.Datastore
	used := map[string]bool{}
	for _, fs := range fss {
		name := fs.VolumeName
		if name == "" {
			name = fs.UUID
		}
		if name == "" {
			continue
		}
		ds := custody.Datastore{Name: fs.VolumeName, UUID: fs.UUID, Type: fs.Type}
		for _, p := range []string{nameOrEmpty(fs.VolumeName), nameOrEmpty(fs.UUID), fs.MountPoint} {
			if p != "" && p != esxi.VolumesDir+"/" && !contains(ds.Paths, p) {
				ds.Paths = append(ds.Paths, p)
			}
		}
		ds.Folder = SafeName(name)
		if reservedTop[ds.Folder] || strings.HasPrefix(ds.Folder, "esxsink-") || used[ds.Folder] {
			// Two datastores whose names differ only in characters the
			// workstation cannot store, or one named like our own
			// folders: the UUID tells them apart.
			ds.Folder = SafeName(name + " (" + fs.UUID + ")")
		}
		used[ds.Folder] = true
		out = append(out, ds)
	}
	return out
}

func nameOrEmpty(n string) string {
	if n == "" {
		return ""
	}
	return esxi.VolumePath(n, "")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// EvidencePath is where the host file at hostPath goes in the evidence
// folder: /vmfs/volumes/<name or uuid>/<path> becomes
// <datastore folder>/<path>, each name kept as the host has it but for
// the characters the workstation cannot store. Paths of two different
// files on the host never meet here unless their names differ only in
// such characters (MakePlan refuses to let one take the other's place).
func EvidencePath(hostPath string, stores []custody.Datastore) string {
	ds, rel, ok := esxi.SplitVolumePath(hostPath)
	if !ok {
		return safePath(hostPath)
	}
	folder := SafeName(ds)
	for _, s := range stores {
		if contains(s.Paths, esxi.VolumePath(ds, "")) {
			folder = s.Folder
			break
		}
	}
	if rel == "" {
		return folder
	}
	return folder + "/" + safePath(rel)
}

// DeviceEvidencePath is where a whole device (a USB disk, an RDM's LUN)
// goes: devices/<device>.raw, the same for each mapping of one LUN.
func DeviceEvidencePath(device string) string {
	return DevicesFolder + "/" + SafeName(path.Base(device)+".raw")
}

// safePath makes each component of p a SafeName, dropping empty ones.
func safePath(p string) string {
	var parts []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			parts = append(parts, SafeName(c))
		}
	}
	return strings.Join(parts, "/")
}
