package nfssink

import "sort"

// intervals is a sorted set of disjoint half-open byte ranges: the parts of
// a file written beyond the hashed prefix, waiting for the gap before them
// to close. Only ranges are kept, never data: closing a gap reads the bytes
// back from disk, so memory stays bounded however a client orders writes.
type intervals struct {
	r [][2]int64
}

// add inserts [start, end), merging with neighbours it touches.
func (s *intervals) add(start, end int64) {
	if start >= end {
		return
	}
	i := sort.Search(len(s.r), func(i int) bool { return s.r[i][1] >= start })
	j := i
	for j < len(s.r) && s.r[j][0] <= end {
		start = min(start, s.r[j][0])
		end = max(end, s.r[j][1])
		j++
	}
	s.r = append(s.r[:i], append([][2]int64{{start, end}}, s.r[j:]...)...)
}

// popThrough removes and returns the end of the leading ranges that start
// at or before w, i.e. how far the contiguous prefix now reaches (w if no
// range touches it).
func (s *intervals) popThrough(w int64) int64 {
	for len(s.r) > 0 && s.r[0][0] <= w {
		w = max(w, s.r[0][1])
		s.r = s.r[1:]
	}
	return w
}

func (s *intervals) len() int { return len(s.r) }

// bytes is the total length covered.
func (s *intervals) bytes() int64 {
	var n int64
	for _, r := range s.r {
		n += r[1] - r[0]
	}
	return n
}
