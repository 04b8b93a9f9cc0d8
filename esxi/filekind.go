package esxi

import "strings"

// Kinds of files in a VM folder, by name ([FileKindOf]).
const (
	FileDescriptor = "descriptor"     // a .vmdk descriptor
	FileExtent     = "extent"         // a -flat.vmdk extent
	FileDelta      = "delta"          // a snapshot's -delta.vmdk or -sesparse.vmdk
	FileConfig     = "config"         // .vmx, .vmsd, .vmxf, .nvram
	FileSnapshot   = "snapshot-state" // .vmsn
	FileMemory     = "memory"         // .vmem
	FileSuspend    = "suspend-state"  // .vmss
	FileLog        = "log"            // .log
	FileSwap       = "swap"           // .vswp
	FileLock       = "lock"           // .lck
	FileOther      = "other"
)

// FileKindOf classifies a file of a VM folder by its name, as ESXi names
// them (case does not matter). A raw device mapping file is named like
// an extent (-rdm.vmdk, -rdmp.vmdk): only its descriptor tells.
func FileKindOf(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, "-flat.vmdk"):
		return FileExtent
	case strings.HasSuffix(n, "-sesparse.vmdk"), strings.HasSuffix(n, "-delta.vmdk"):
		return FileDelta
	case strings.HasSuffix(n, ".vmdk"):
		return FileDescriptor
	case strings.HasSuffix(n, ".lck"):
		return FileLock
	case strings.HasSuffix(n, ".vswp"):
		return FileSwap
	case strings.HasSuffix(n, ".vmsn"):
		return FileSnapshot
	case strings.HasSuffix(n, ".vmem"):
		return FileMemory
	case strings.HasSuffix(n, ".vmss"):
		return FileSuspend
	case strings.HasSuffix(n, ".log"):
		return FileLog
	case strings.HasSuffix(n, ".vmx"), strings.HasSuffix(n, ".vmsd"), strings.HasSuffix(n, ".vmxf"), strings.HasSuffix(n, ".nvram"):
		return FileConfig
	}
	return FileOther
}
