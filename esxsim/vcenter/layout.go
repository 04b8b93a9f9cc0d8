package vcenter

import (
	"path"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/esxsink/esxsink/esxsim"
)

// vmFiles is a VM's folder on its host as vSphere's layoutEx lists it:
// every file with its type and size, disks as chains of files, snapshots
// by their state files.
type vmFiles struct {
	names map[string]string // /vmfs/volumes UUID -> datastore name
	files []types.VirtualMachineFileLayoutExFileInfo
	key   map[string]int32 // absolute path -> file key
	disks []types.VirtualMachineFileLayoutExDiskLayout
	snaps []types.VirtualMachineFileLayoutExSnapshotLayout
}

// layout lists the VM's folder on its host.
func (v *VCenter) layout(lv *labVM, names map[string]string, st esxsim.VMState) (*vmFiles, error) {
	f := &vmFiles{names: names, key: map[string]int32{}}
	dir := path.Dir(st.VMX)
	infos, err := lv.host.h.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, fi := range infos {
		typ := fileType(fi.Name())
		if fi.IsDir() || typ == "" {
			continue
		}
		abs := dir + "/" + fi.Name()
		k := int32(len(f.files))
		name, _ := dsPath(names, abs)
		f.files = append(f.files, types.VirtualMachineFileLayoutExFileInfo{
			Key: k, Name: name, Type: typ, Size: fi.Size(), UniqueSize: fi.Size(), Accessible: types.NewBool(true),
		})
		f.key[abs] = k
	}
	return f, nil
}

// fileType is the layoutEx type of a file in a VM's folder ("" for what
// vSphere does not list, such as lock files).
func fileType(name string) string {
	ext := path.Ext(name)
	switch ext {
	case ".vmx":
		return string(types.VirtualMachineFileLayoutExFileTypeConfig)
	case ".vmxf":
		return string(types.VirtualMachineFileLayoutExFileTypeExtendedConfig)
	case ".nvram":
		return string(types.VirtualMachineFileLayoutExFileTypeNvram)
	case ".vmsd":
		return string(types.VirtualMachineFileLayoutExFileTypeSnapshotList)
	case ".vmsn":
		return string(types.VirtualMachineFileLayoutExFileTypeSnapshotData)
	case ".vmem":
		if strings.Contains(name, "-Snapshot") {
			return string(types.VirtualMachineFileLayoutExFileTypeSnapshotMemory)
		}
		return string(types.VirtualMachineFileLayoutExFileTypeSuspendMemory)
	case ".vmss":
		return string(types.VirtualMachineFileLayoutExFileTypeSuspend)
	case ".vswp":
		if strings.HasPrefix(name, "vmx-") {
			return string(types.VirtualMachineFileLayoutExFileTypeUwswap)
		}
		return string(types.VirtualMachineFileLayoutExFileTypeSwap)
	case ".log":
		return string(types.VirtualMachineFileLayoutExFileTypeLog)
	case ".vmdk":
		if extentKind(name) != "" {
			return string(types.VirtualMachineFileLayoutExFileTypeDiskExtent)
		}
		return string(types.VirtualMachineFileLayoutExFileTypeDiskDescriptor)
	}
	return ""
}

// extentKinds are the suffixes of the data files behind descriptors.
var extentKinds = []string{"-flat", "-sesparse", "-delta", "-rdmp", "-rdm"}

// extentKind is the suffix of an extent file name, "" for a descriptor.
func extentKind(name string) string {
	stem := strings.TrimSuffix(name, ".vmdk")
	for _, k := range extentKinds {
		if strings.HasSuffix(stem, k) {
			return k
		}
	}
	return ""
}

// extentOf is the extent file beside descriptor abs, "" when the folder
// has none.
func (f *vmFiles) extentOf(abs string) string {
	stem := strings.TrimSuffix(abs, ".vmdk")
	for _, k := range extentKinds {
		if _, ok := f.key[stem+k+".vmdk"]; ok {
			return stem + k + ".vmdk"
		}
	}
	return ""
}

// addDisk records a disk's chain (top first, as the host reports it) as
// layoutEx lists it: base first, each unit its descriptor and extent.
func (f *vmFiles) addDisk(key int32, chain []string) {
	d := types.VirtualMachineFileLayoutExDiskLayout{Key: key}
	for i := len(chain) - 1; i >= 0; i-- {
		var u types.VirtualMachineFileLayoutExDiskUnit
		for _, p := range []string{chain[i], f.extentOf(chain[i])} {
			if k, ok := f.key[p]; ok {
				u.FileKey = append(u.FileKey, k)
			}
		}
		d.Chain = append(d.Chain, u)
	}
	f.disks = append(f.disks, d)
}

// fileKey is the key of a file, -1 when it is not in the folder.
func (f *vmFiles) fileKey(abs string) int32 {
	if k, ok := f.key[abs]; ok {
		return k
	}
	return -1
}

func (f *vmFiles) layoutEx(at time.Time) *types.VirtualMachineFileLayoutEx {
	return &types.VirtualMachineFileLayoutEx{File: f.files, Disk: f.disks, Snapshot: f.snaps, Timestamp: at}
}
