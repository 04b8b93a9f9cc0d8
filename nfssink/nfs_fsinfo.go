package nfssink

// onFSInfo advertises transfer sizes the front end can take in one record.
// go-nfs advertises 1 GiB, which clients would use to size their buffers.
func (c *conn) onFSInfo(h callHeader, args *xdrReader) *xdrWriter {
	fh, err := args.Opaque(maxFileHandle)
	if err != nil {
		return newReply(h.xid, acceptGarbageArgs)
	}
	rel, err := c.s.handles.path(fh)
	if err != nil {
		w := statusReply(h.xid, nfs3ErrStale)
		putPostOp(w, nil)
		return w
	}
	w := statusReply(h.xid, nfs3OK)
	putPostOp(w, c.s.attrsOf(rel))
	w.Uint32(maxRead)  // rtmax
	w.Uint32(maxRead)  // rtpref
	w.Uint32(4096)     // rtmult
	w.Uint32(maxWrite) // wtmax
	w.Uint32(maxWrite) // wtpref
	w.Uint32(4096)     // wtmult
	w.Uint32(64 << 10) // dtpref
	w.Uint64(maxFileSize)
	w.Uint32(0) // time_delta: 1 ns
	w.Uint32(1)
	w.Uint32(0x0008 | 0x0010) // FSF3_HOMOGENEOUS | FSF3_CANSETTIME; no links
	return w
}
