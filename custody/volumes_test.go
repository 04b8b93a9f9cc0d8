package custody

import (
	"maps"
	"testing"
)

// Two hosts' own datastore1 (two UUIDs) in one case: a reference by the
// name datastore1 is not resolved to either (which one it means depends
// on the host that wrote it); references by UUID resolve to each one's
// folder; a name a later run gives the same datastore again resolves.
func TestVolumeFoldersSameName(t *testing.T) {
	t.Parallel()
	var c caseLog
	table := func(host, name, uuid, folder string) {
		c.add(TypeDatastores, Datastores{Host: host, Stores: []Datastore{{Name: name, UUID: uuid, Folder: folder,
			Paths: []string{"/vmfs/volumes/" + name, "/vmfs/volumes/" + uuid}}}})
	}
	table("10.0.0.1:22", "datastore1", "u-a", "datastore1~aaaaaaaa")
	table("10.0.0.2:22", "datastore1", "u-b", "datastore1~bbbbbbbb")
	table("10.0.0.1:22", "shared", "u-s", "shared")
	table("10.0.0.2:22", "shared", "u-s", "shared")
	got := VolumeFolders(c.recs)
	want := map[string]string{"u-a": "datastore1~aaaaaaaa", "u-b": "datastore1~bbbbbbbb", "shared": "shared", "u-s": "shared"}
	if !maps.Equal(got, want) {
		t.Errorf("VolumeFolders = %v, want %v", got, want)
	}
}
