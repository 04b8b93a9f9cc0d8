package nfssink

// onFSInfo advertises transfer sizes the front end can take in one record.
// go-nfs advertises 1 GiB, which clients would use to size their buffers.
func (c *conn) onFSInfo(h callHeader, args *xdrReader) *xdrWriter {
	fh, err := args.opaque(maxFileHandle)
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
	w.uint32(maxWrite) // rtmax
	w.uint32(maxWrite) // rtpref
	w.uint32(4096)     // rtmult
	w.uint32(maxWrite) // wtmax
	w.uint32(maxWrite) // wtpref
	w.uint32(4096)     // wtmult
	w.uint32(64 << 10) // dtpref
	w.uint64(1 << 62)  // maxfilesize
	w.uint32(0)        // time_delta: 1 ns
	w.uint32(1)
	w.uint32(0x0008 | 0x0010) // FSF3_HOMOGENEOUS | FSF3_CANSETTIME; no links
	return w
}
