package vmdk

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Our own descriptors in the styles seen on ESXi, qemu and hosted
// products (names and values are made up).
const (
	descVMFS = `# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=7c1e2a90
parentCID=ffffffff
isNativeSnapshot="no"
createType="vmfs"

# Extent description
RW 83886080 VMFS "evidence vm-flat.vmdk"

# The Disk Data Base
#DDB

ddb.adapterType = "lsilogic"
ddb.geometry.cylinders = "5221"
ddb.longContentID = "0d9c5e6aa1b2c3d4e5f6a7b87c1e2a90"
ddb.thinProvisioned = "1"
ddb.uuid = "60 00 C2 91 aa bb cc dd-ee ff 00 11 22 33 44 55"
ddb.virtualHWVersion = "19"
`
	descSESparse = "# Disk DescriptorFile\r\nversion=1\r\nCID=51f0aa07\r\nparentCID=7c1e2a90\r\n" +
		"createType=\"seSparse\"\r\nparentFileNameHint=\"evidence vm.vmdk\"\r\n# Extent description\r\n" +
		"RW 83886080 SESPARSE \"evidence vm-000001-sesparse.vmdk\"\r\n\r\n# The Disk Data Base\r\n#DDB\r\n\r\n" +
		"ddb.encoding = \"UTF-8\"\r\nddb.grain = \"8\"\r\n"
	descRDMCBT = `# Disk DescriptorFile
version=3
encoding="UTF-8"
CID=0a1b2c3d
parentCID=ffffffff
isNativeSnapshot="no"
createType="vmfsRawDeviceMap"

# Extent description
RW 2097152 VMFSRDM "lun7-rdm.vmdk"

# Change Tracking File
changeTrackPath="lun7-ctk.vmdk"

# The Disk Data Base
#DDB

ddb.adapterType = "lsilogic"
`
	descMixed = `# Disk DescriptorFile
version=1
CID=9ef714f
parentCID=ffffffff
createType=custom
# Extent description
RW 2048 ZERO
RDONLY 4096 FLAT "part one.bin" 0
NOACCESS 100 FLAT "/dev/sdb" 63 4a6f-uuid dev-id-9
rw 10 sparse "x.vmdk"
encryption.keySafe = "vmware:key/list/(pair/(fqid/x,HMAC-SHA-256,abc))"
encryption.data = "AAEC"
`
)

func TestParseDescriptor(t *testing.T) {
	t.Parallel()
	d, err := ParseDescriptor("vmfs.vmdk", []byte(descVMFS))
	if err != nil {
		t.Fatal(err)
	}
	if d.CID != 0x7c1e2a90 || d.ParentCID != NoParentCID || d.CreateType != "vmfs" || d.HasParent() || !d.HasCID() ||
		d.Encoding != "UTF-8" || d.IsNativeSnapshot != "no" || d.Sectors() != 83886080 || d.Encrypted() {
		t.Errorf("vmfs descriptor parsed as %+v", d)
	}
	if e := d.Extents[0]; e.Type != ExtentVMFS || e.FileName != "evidence vm-flat.vmdk" || e.Access != AccessRW || e.Line != 10 {
		t.Errorf("extent %+v", e)
	}
	if v, ok := d.DDBValue("thinprovisioned"); !ok || v != "1" || len(d.DDB) != 6 {
		t.Errorf("DDB %+v", d.DDB)
	}

	d, err = ParseDescriptor("se.vmdk", []byte(descSESparse))
	if err != nil {
		t.Fatal(err)
	}
	if d.ParentCID != 0x7c1e2a90 || d.ParentFileNameHint != "evidence vm.vmdk" || d.Extents[0].Type != ExtentSESparse {
		t.Errorf("CRLF seSparse descriptor parsed as %+v", d)
	}

	d, err = ParseDescriptor("rdm.vmdk", []byte(descRDMCBT))
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != 3 || d.ChangeTrackPath != "lun7-ctk.vmdk" || d.Extents[0].Type != ExtentVMFSRDM || d.CreateType != "vmfsRawDeviceMap" {
		t.Errorf("RDM/CBT descriptor parsed as %+v", d)
	}

	d, err = ParseDescriptor("mixed.vmdk", []byte(descMixed))
	if err != nil {
		t.Fatal(err)
	}
	want := []ExtentLine{
		{Access: "RW", Sectors: 2048, Type: ExtentZero, Line: 7},
		{Access: "RDONLY", Sectors: 4096, Type: ExtentFlat, FileName: "part one.bin", Line: 8},
		{Access: "NOACCESS", Sectors: 100, Type: ExtentFlat, FileName: "/dev/sdb", Offset: 63, PartitionUUID: "4a6f-uuid", DeviceID: "dev-id-9", Line: 9},
		{Access: "RW", Sectors: 10, Type: ExtentSparse, FileName: "x.vmdk", Line: 10},
	}
	if !reflect.DeepEqual(d.Extents, want) {
		t.Errorf("extents\n got %+v\nwant %+v", d.Extents, want)
	}
	if d.CID != 0x9ef714f || d.CreateType != "custom" || !d.Encrypted() || len(d.Encryption) != 2 {
		t.Errorf("mixed descriptor parsed as %+v", d)
	}
}

// TestParseDescriptorPadding: the text ends at the first NUL, even when
// stale bytes follow (qemu leaves them when it rewrites a shorter CID).
func TestParseDescriptorPadding(t *testing.T) {
	t.Parallel()
	text := []byte(descVMFS + "\x00\x00" + "e.virtualHWVersion = \"19\"\n" + strings.Repeat("\x00", 100))
	d, err := ParseDescriptor("padded.vmdk", text)
	if err != nil || d.CID != 0x7c1e2a90 {
		t.Fatalf("NUL-padded descriptor with stale tail: %v %+v", err, d)
	}
}

func TestCreateTypesAndExtentTypes(t *testing.T) {
	t.Parallel()
	for alias, canon := range createTypes {
		d, err := ParseDescriptor("t", []byte("createType=\""+strings.ToUpper(alias[:1])+alias[1:]+"\"\nRW 1 ZERO\n"))
		if err != nil || d.CreateType != canon {
			t.Errorf("createType %q: %v, got %q want %q", alias, err, d.CreateType, canon)
		}
	}
	for _, typ := range extentTypes {
		line := "RW 8 " + string(typ) + ` "f.bin"`
		d, err := ParseDescriptor("t", []byte("createType=\"custom\"\n"+line+"\n"))
		if err != nil || d.Extents[0].Type != typ {
			t.Errorf("extent type %s: %v", typ, err)
		}
	}
}

func TestParseDescriptorErrors(t *testing.T) {
	t.Parallel()
	head := "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType=\"vmfs\"\n"
	for _, tc := range []struct {
		name, text string
		line       int
		words      []string
	}{
		{"short extent", head + "RW 100 VMFS\n", 6, []string{"3 fields, want at least 4"}},
		{"no fields", head + "RW\n", 6, []string{"1 fields, want at least 3"}},
		{"bad size", head + `RW 12x VMFS "a"` + "\n", 6, []string{`"12x"`, "sector count"}},
		{"negative size", head + `RW -5 VMFS "a"` + "\n", 6, []string{"sector count"}},
		{"unknown type", head + `RW 5 FLATT "a"` + "\n", 6, []string{`unknown extent type "FLATT"`}},
		{"unterminated name", head + `RW 5 VMFS "a.vmdk` + "\n", 6, []string{"unterminated"}},
		{"offset on sparse", head + `RW 5 SESPARSE "a" 7` + "\n", 6, []string{"takes no offset"}},
		{"bad offset", head + `RW 5 FLAT "a" x` + "\n", 6, []string{"offset"}},
		{"too many fields", head + `RW 5 FLAT "a" 0 u d e` + "\n", 6, []string{"at most 7"}},
		{"bad CID", "CID=xyz\n", 1, []string{"CID", "hex"}},
		{"long CID", "CID=123456789\n", 1, []string{"hex"}},
		{"bad version", "version=7\n", 1, []string{"version"}},
		{"unknown createType", "createType=\"vmfsFancy\"\n", 1, []string{"unknown createType"}},
		{"repeated key", head + "CID=1\n", 6, []string{"CID repeated", "line 3"}},
		{"unterminated value", head + "ddb.uuid = \"60 00\n", 6, []string{"unterminated"}},
		{"garbage line", head + "\\# Extent description\n", 6, []string{"neither key=value"}},
		{"empty hint", head + "parentFileNameHint=\"\"\n", 6, []string{"empty parentFileNameHint"}},
		{"truncated: no extents", head + "# Extent description\n", 0, []string{"no extent lines", "truncated"}},
		{"truncated: no createType", "# Disk DescriptorFile\nversion=1\nCID=1\n", 0, []string{"no createType", "truncated"}},
		{"binary", "\x7fELF\x02\x01\x01", 1, []string{"neither"}},
	} {
		_, err := ParseDescriptor("disk-000001.vmdk", []byte(tc.text))
		var de *DescriptorError
		if !errors.As(err, &de) {
			t.Errorf("%s: error %v, want a *DescriptorError", tc.name, err)
			continue
		}
		if de.Line != tc.line || de.File != "disk-000001.vmdk" {
			t.Errorf("%s: error at line %d, want %d: %v", tc.name, de.Line, tc.line, err)
		}
		// The words are the examiner's explanation: the product.
		msg := err.Error()
		if tc.line > 0 && !strings.Contains(msg, "disk-000001.vmdk line ") {
			t.Errorf("%s: %q does not name the file and line", tc.name, msg)
		}
		for _, w := range tc.words {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q does not mention %q", tc.name, msg, w)
			}
		}
	}
	var de *DescriptorError
	if _, err := ParseDescriptor("big", make([]byte, MaxDescriptorSize+1)); !errors.As(err, &de) || de.File != "big" || de.Line != 0 {
		t.Errorf("oversized descriptor: %v", err)
	}
}

func TestDescriptorMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	for _, text := range []string{descVMFS, descSESparse, descRDMCBT, descMixed} {
		d, err := ParseDescriptor("a", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		d2, err := ParseDescriptor("b", d.Marshal())
		if err != nil {
			t.Fatalf("re-parse of\n%s\n: %v", d.Marshal(), err)
		}
		clearLines(d)
		clearLines(d2)
		if !reflect.DeepEqual(d, d2) {
			t.Errorf("round trip changed the descriptor:\n%+v\n%+v", d, d2)
		}
	}
}

func clearLines(d *Descriptor) {
	for i := range d.Extents {
		d.Extents[i].Line = 0
	}
	for _, kvs := range [][]KeyValue{d.DDB, d.Encryption, d.Other} {
		for i := range kvs {
			kvs[i].Line = 0
		}
	}
}
