package vmdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	// klauspost/compress inflates grains instead of compress/zlib:
	// streamOptimized conversion is bound by inflating, and Go's
	// compress/flate runs at about 60% of zlib's speed, which put
	// `vmdk convert` behind qemu-img (issue 15). Its decoder has loops
	// specialised for a *bytes.Reader input, which is what a grain's
	// payload is read into; it is the same format and the same checks
	// (header, Adler-32), and the fuzz and hostile-input tests run
	// through it.
	"github.com/klauspost/compress/zlib"
)

// streamOptimized marker types (the u32 at byte 12 of a marker sector).
const (
	markerEOS    = 0
	markerGT     = 1
	markerGD     = 2
	markerFooter = 3
)

// grainHeaderSize is the LBA (u64) and compressed size (u32) in front of
// every compressed grain when markers are present.
const grainHeaderSize = 12

// inflater is a reusable zlib reader with its buffers; Reset reuses the
// decompressor state, which a fresh reader per grain would reallocate.
type inflater struct {
	src  bytes.Reader
	zr   io.ReadCloser
	comp []byte
	tail []byte
}

func (e *sparseExtent) getInflater() *inflater {
	e.zmu.Lock()
	defer e.zmu.Unlock()
	if n := len(e.zpool); n > 0 {
		z := e.zpool[n-1]
		e.zpool = e.zpool[:n-1]
		return z
	}
	return &inflater{}
}

func (e *sparseExtent) putInflater(z *inflater) {
	e.zmu.Lock()
	if len(e.zpool) < 64 {
		e.zpool = append(e.zpool, z)
	}
	e.zmu.Unlock()
}

// grainLen is how many bytes grain g holds: a whole grain, except the
// last one when the capacity is not a multiple of the grain.
func (e *sparseExtent) grainLen(g int64) int64 {
	return min(e.grainBytes, e.capacity-g*e.grainBytes)
}

// readCompressed copies bytes [in, in+len(dst)) of compressed grain g,
// stored at byte fo, into dst.
func (e *sparseExtent) readCompressed(g, fo int64, dst []byte, in int64) error {
	want := e.grainLen(g)
	if in == 0 && int64(len(dst)) == want {
		return e.inflateGrain(g, fo, dst)
	}
	e.gmu.Lock()
	defer e.gmu.Unlock()
	if e.last.data == nil || e.last.g != g {
		if cap(e.last.data) < int(want) {
			e.last.data = make([]byte, e.grainBytes)
		}
		e.last.g = -1
		if err := e.inflateGrain(g, fo, e.last.data[:want]); err != nil {
			return err
		}
		e.last.g, e.last.data = g, e.last.data[:want]
	}
	copy(dst, e.last.data[in:])
	return nil
}

// grainPayload reads the compressed bytes of grain g stored at byte fo
// into z.comp and returns them: past the 12-byte grain header when
// markers are present, else from fo itself (qemu's reading; no sample of
// that layout exists). One read usually fetches header and payload.
func (e *sparseExtent) grainPayload(z *inflater, g, fo int64) ([]byte, error) {
	if fo < 0 || fo >= e.fileSize {
		return nil, corruptf("vmdk: %s: grain %d at byte %d lies outside the file (%d bytes)", e.name, g, fo, e.fileSize)
	}
	limit := 2 * e.grainBytes // qemu's bound: a payload may exceed a grain
	first := min(grainHeaderSize+e.grainBytes, e.fileSize-fo)
	if int64(cap(z.comp)) < grainHeaderSize+limit {
		z.comp = make([]byte, grainHeaderSize+limit)
	}
	buf := z.comp[:first]
	if err := readFull(e.r, e.name, buf, fo); err != nil {
		return nil, err
	}
	if e.hdr.Flags&flagMarkers == 0 {
		if rest := min(limit, e.fileSize-fo) - first; rest > 0 {
			buf = z.comp[:first+rest]
			if err := readFull(e.r, e.name, buf[first:], fo+first); err != nil {
				return nil, err
			}
		}
		return buf, nil
	}
	if len(buf) < grainHeaderSize {
		return nil, corruptf("vmdk: %s: grain %d at byte %d: the file ends inside the grain header", e.name, g, fo)
	}
	lba := binary.LittleEndian.Uint64(buf)
	size := int64(binary.LittleEndian.Uint32(buf[8:]))
	switch {
	case size == 0:
		return nil, corruptf("vmdk: %s: grain %d points at byte %d, which holds a metadata marker, not a grain", e.name, g, fo)
	case size > limit:
		return nil, corruptf("vmdk: %s: grain %d at byte %d claims %d compressed bytes, more than twice the grain size", e.name, g, fo, size)
	case lba != uint64(g)*uint64(e.hdr.GrainSize):
		return nil, corruptf("vmdk: %s: the grain at byte %d is marked for sector %d but the grain table puts it at sector %d", e.name, fo, lba, g*int64(e.hdr.GrainSize))
	case fo+grainHeaderSize+size > e.fileSize:
		return nil, corruptf("vmdk: %s: grain %d (%d compressed bytes at byte %d) runs past the end of the file (%d bytes): the file is truncated", e.name, g, size, fo, e.fileSize)
	}
	end := grainHeaderSize + size
	if end > first {
		buf = z.comp[:end]
		if err := readFull(e.r, e.name, buf[first:], fo+first); err != nil {
			return nil, err
		}
	}
	return buf[grainHeaderSize:end], nil
}

// inflateGrain decompresses grain g into out, which must be exactly the
// grain's length. The zlib checksum is verified.
func (e *sparseExtent) inflateGrain(g, fo int64, out []byte) error {
	z := e.getInflater()
	defer e.putInflater(z)
	comp, err := e.grainPayload(z, g, fo)
	if err != nil {
		return err
	}
	if err := z.inflate(comp, out, e.grainBytes-int64(len(out))); err != nil {
		return corruptf("vmdk: %s: grain %d at byte %d: %v", e.name, g, fo, err)
	}
	return nil
}

// inflate decompresses the zlib stream comp into out. The stream must
// fill out exactly, allowing up to slack more bytes (a writer may store a
// whole grain for a final partial one), and end with a good checksum.
func (z *inflater) inflate(comp, out []byte, slack int64) error {
	z.src.Reset(comp)
	if z.zr == nil {
		zr, err := zlib.NewReader(&z.src)
		if err != nil {
			return fmt.Errorf("not a zlib stream: %v", err)
		}
		z.zr = zr
	} else if err := z.zr.(zlib.Resetter).Reset(&z.src, nil); err != nil {
		return fmt.Errorf("not a zlib stream: %v", err)
	}
	n, err := io.ReadFull(z.zr, out)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
			return fmt.Errorf("inflates to %d bytes, want %d", n, len(out))
		}
		return fmt.Errorf("inflate: %v", err)
	}
	// Read to the end so the checksum is checked and overlong data found.
	if len(z.tail) < 512 {
		z.tail = make([]byte, 512)
	}
	var extra int64
	for {
		m, err := z.zr.Read(z.tail)
		extra += int64(m)
		if extra > slack {
			return fmt.Errorf("inflates to more than %d bytes", int64(len(out))+slack)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("inflate: %v", err)
		}
	}
}
