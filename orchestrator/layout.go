package orchestrator

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxi"
)

// DevicesFolder is the top folder of whole devices: USB disks and the
// LUNs behind raw device mappings.
const DevicesFolder = "devices"

// reservedTop are the evidence folder's top folders that are not
// datastores, and the case's vcenter folder, whose kept files records
// name by paths of the same form (vcenter/…); a datastore of such a name
// gets another folder (recorded in the table).
var reservedTop = map[string]bool{custody.HostArtifactsFolder: true, DevicesFolder: true, custody.SupersededFolder: true, custody.VCenterFolder: true}

// DatastoreTable maps the host's datastores into the evidence folder: each
// gets a top folder (folders[UUID] when the case chose one, DatastoreFolders;
// otherwise as DatastoreFolders would choose it among this host's
// datastores alone), and every /vmfs/volumes path that leads to it (name,
// UUID, mount point) is listed, so a reference by any of them resolves in
// the case.
func DatastoreTable(fss []esxi.Filesystem, folders map[string]string) []custody.Datastore {
	var out []custody.Datastore
	for _, fs := range fss {
		if fs.VolumeName == "" && fs.UUID == "" {
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
	own := DatastoreFolders(nil, out)
	for i := range out {
		ds := &out[i]
		ds.Folder = cmp.Or(folders[datastoreID(*ds)], own[datastoreID(*ds)])
	}
	return out
}

// DatastoreFolders chooses the evidence folder of every datastore of a
// case, by identity (the UUID; the name for one without). A datastore an
// earlier run of the case recorded (earlier, its datastore tables) keeps
// the folder it was given, so a resumed or later run puts its files where
// the first one did. Any other datastore gets its name as folder, only
// what the workstation cannot store replaced (SafeName), unless another
// datastore of the case (any host, any run) would have the same folder,
// also when only the case differs (evidence is copied to case-insensitive
// disks), or it is named like one of our own top folders: then its
// folder is the name tagged with its UUID, as EvidenceName tags a file
// (datastore1~<8 hex of the SHA-256 of the UUID>). The tag hashes the
// UUID rather than quoting it: a VMFS UUID starts with its creation
// time, which hosts installed together share. A datastore whose name is
// its folder keeps it when every other one of the same folder is tagged
// anyway (a:b beside a_b); two storable names that clash (datastore1 on
// two hosts) are both tagged. The choice depends on the set of
// datastores alone, not on their order or on which host finishes first.
// The result maps identity to folder.
func DatastoreFolders(earlier []custody.Datastore, stores []custody.Datastore) map[string]string {
	out := map[string]string{}
	taken := map[string]string{} // folded folder -> identity
	for _, ds := range earlier {
		id := datastoreID(ds)
		if _, ok := out[id]; ok || ds.Folder == "" || id == "" {
			continue
		}
		out[id] = ds.Folder
		taken[strings.ToLower(ds.Folder)] = id
	}
	type cand struct{ id, name, base string }
	var fresh []cand
	for _, ds := range stores {
		id := datastoreID(ds)
		if _, ok := out[id]; ok || id == "" || slices.ContainsFunc(fresh, func(c cand) bool { return c.id == id }) {
			continue
		}
		name := cmp.Or(ds.Name, ds.UUID)
		fresh = append(fresh, cand{id: id, name: name, base: SafeName(name)})
	}
	// In one order whatever the hosts' (it only matters should two tags
	// agree in their 8 digits).
	slices.SortFunc(fresh, func(a, b cand) int { return strings.Compare(a.id, b.id) })
	// Who else would take each folder: earlier datastores, and every new
	// one of the same folded name.
	claims := map[string][]cand{}
	for _, c := range fresh {
		k := strings.ToLower(c.base)
		claims[k] = append(claims[k], c)
	}
	for _, c := range fresh {
		k := strings.ToLower(c.base)
		exact := 0
		for _, o := range claims[k] {
			if o.base == o.name {
				exact++
			}
		}
		plain := taken[k] == "" && !reservedFolder(c.base) && (len(claims[k]) == 1 || (c.base == c.name && exact == 1))
		if plain {
			out[c.id] = c.base
		} else {
			out[c.id] = tagName(c.base, "", c.id, func(f string) bool {
				f = strings.ToLower(f)
				return taken[f] != "" || len(claims[f]) > 0
			})
		}
		taken[strings.ToLower(out[c.id])] = c.id
	}
	return out
}

// CaseFolders chooses the folders (DatastoreFolders) of the datastores of
// the hosts invs, which are collected into one case together, after the
// case's earlier runs.
func CaseFolders(earlier []custody.Datastore, invs ...*Inventory) map[string]string {
	var stores []custody.Datastore
	for _, inv := range invs {
		if inv != nil {
			stores = append(stores, DatastoreTable(inv.Datastores, nil)...)
		}
	}
	return DatastoreFolders(earlier, stores)
}

// FolderReason says why a datastore's folder is not its name ("" when it
// is, or when it has no name).
func FolderReason(ds custody.Datastore) string {
	switch {
	case ds.Name == "" || ds.Folder == ds.Name:
		return ""
	case SafeName(ds.Name) != ds.Name:
		return "the workstation cannot store its name as it is"
	case reservedFolder(ds.Name):
		return "its name is one of the case's own folders"
	default:
		return "another datastore of this case (another UUID) has the same name, or one that differs only in case"
	}
}

// datastoreID is what tells a datastore from every other: its UUID, or
// for one without, its name.
func datastoreID(ds custody.Datastore) string { return cmp.Or(ds.UUID, ds.Name) }

// reservedFolder: the evidence folder's own top folders and our run
// folders, which no datastore may take.
func reservedFolder(f string) bool {
	for r := range reservedTop {
		if strings.EqualFold(f, r) {
			return true
		}
	}
	return strings.HasPrefix(strings.ToLower(f), "esxsink-")
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
	ext := path.Ext(name)
	if len(ext) > 16 || ext == name || SafeName(ext) != ext {
		ext = ""
	}
	return tagName(SafeName(strings.TrimSuffix(name, ext)), ext, name, nil)
}

// tagName is stem + "~" + 8 hex digits of the SHA-256 of key + ext, the
// stem shortened so that the name fits in 255 bytes: the one way esxsink
// tells apart two things that would have the same name in the evidence
// folder (EvidenceName, DatastoreFolders). Should taken report the name
// as used (the 8 digits of two keys agree), more digits are used.
func tagName(stem, ext, key string, taken func(string) bool) string {
	sum := sha256.Sum256([]byte(key))
	digits := hex.EncodeToString(sum[:])
	var name string
	for n := 8; n <= len(digits); n *= 2 {
		tag := "~" + digits[:n]
		s := stem
		for len(s)+len(tag)+len(ext) > 255 {
			_, size := utf8.DecodeLastRuneInString(s)
			s = s[:len(s)-size]
		}
		if name = s + tag + ext; taken == nil || !taken(name) {
			break
		}
	}
	return name
}
