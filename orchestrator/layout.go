package orchestrator

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"path"
	"strings"
	"unicode/utf8"

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
		out = append(out, ds)
	}
	// A datastore whose name the workstation stores keeps it; one whose
	// name had to change, or that is named like our own folders, yields:
	// when its folder is taken, its UUID tells it apart.
	used := map[string]bool{}
	for _, storable := range []bool{true, false} {
		for i := range out {
			ds := &out[i]
			name := cmp.Or(ds.Name, ds.UUID)
			if (SafeName(name) == name) != storable {
				continue
			}
			ds.Folder = SafeName(name)
			if reservedTop[ds.Folder] || strings.HasPrefix(ds.Folder, "esxsink-") || used[ds.Folder] {
				ds.Folder = SafeName(name + " (" + ds.UUID + ")")
			}
			used[ds.Folder] = true
		}
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
// <datastore folder>/<path>, each name kept as the host has it unless the
// workstation cannot store it (EvidenceName). Paths of two different
// files on the host do not meet here; should a host name equal another's
// tagged name, MakePlan refuses to let one take the other's place.
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

// safePath makes each component of p an EvidenceName, dropping empty
// ones.
func safePath(p string) string {
	var parts []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			parts = append(parts, EvidenceName(c))
		}
	}
	return strings.Join(parts, "/")
}

// EvidenceName is the name a file or folder of a datastore has in the
// evidence folder. A name the workstation can store (SafeName leaves it
// as it is) is kept. A name that had to change is SafeName's version
// with "~" and 8 hex digits of the SHA-256 of the host's name before its
// extension: a:b.vmdk and a?b.vmdk, both a_b.vmdk once made storable,
// become a_b~<one>.vmdk and a_b~<other>.vmdk, and neither takes a_b.vmdk
// from a file that really has that name. The tag depends on the name
// alone, so a file gets the same path in every run of a case, whatever
// else the host holds. Each file's record keeps its host path beside it;
// a storable name that happens to equal a tagged one is the one clash
// left, and MakePlan records it as not collected.
func EvidenceName(name string) string {
	safe := SafeName(name)
	if safe == name {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	tag := "~" + hex.EncodeToString(sum[:4])
	ext := path.Ext(name)
	if len(ext) > 16 || ext == name || SafeName(ext) != ext {
		ext = ""
	}
	stem := SafeName(strings.TrimSuffix(name, ext))
	for len(stem)+len(tag)+len(ext) > 255 {
		_, size := utf8.DecodeLastRuneInString(stem)
		stem = stem[:len(stem)-size]
	}
	return stem + tag + ext
}
