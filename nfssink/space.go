package nfssink

// space is a file system's capacity as FSSTAT reports it.
type space struct {
	total, free, avail uint64
	files, freeFiles   uint64
}
