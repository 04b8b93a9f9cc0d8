package nfssink

// sattr3 is the part of the client's settable attributes the policy looks
// at; the rest is decoded only to stay aligned.
type sattr3 struct {
	setSize bool
	size    uint64
}

func readSattr(r *xdrReader) (sattr3, error) {
	var s sattr3
	for range 3 { // mode, uid, gid
		set, err := r.Bool()
		if err != nil {
			return s, err
		}
		if set {
			if _, err := r.Uint32(); err != nil {
				return s, err
			}
		}
	}
	set, err := r.Bool()
	if err != nil {
		return s, err
	}
	if set {
		s.setSize = true
		if s.size, err = r.Uint64(); err != nil {
			return s, err
		}
	}
	for range 2 { // atime, mtime: DONT_CHANGE, SET_TO_SERVER_TIME or SET_TO_CLIENT_TIME + nfstime3
		how, err := r.Uint32()
		if err != nil {
			return s, err
		}
		if how == 2 {
			if _, err := r.Uint64(); err != nil {
				return s, err
			}
		}
	}
	return s, nil
}
