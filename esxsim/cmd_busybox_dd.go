package esxsim

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

const ddUsage = `BusyBox multi-call binary.

Usage: dd [if=FILE] [of=FILE] [ibs=N obs=N/bs=N] [count=N] [skip=N] [seek=N]
	[conv=notrunc|noerror|sync|fsync]
	[iflag=skip_bytes|count_bytes|fullblock] [oflag=seek_bytes|append]

Copy a file with converting and formatting

	if=FILE		Read from FILE instead of stdin
	of=FILE		Write to FILE instead of stdout
	bs=N		Read and write N bytes at a time
	ibs=N		Read N bytes at a time
	obs=N		Write N bytes at a time
	count=N		Copy only N input blocks
	skip=N		Skip N input blocks
	seek=N		Skip N output blocks
	conv=notrunc	Don't truncate output file
	conv=noerror	Continue after read errors
	conv=sync	Pad blocks with zeros
	conv=fsync	Physically write data out before finishing
	conv=swab	Swap every pair of bytes
	iflag=skip_bytes	skip=N is in bytes
	iflag=count_bytes	count=N is in bytes
	oflag=seek_bytes	seek=N is in bytes
	iflag=fullblock	Read full blocks
	oflag=append	Open output in append mode
	status=noxfer	Suppress rate output
	status=none	Suppress all output

N may be suffixed by c (1), w (2), b (512), kB (1000), k (1024), MB, M, GB, G
`

// ddNumber parses busybox's size suffixes.
func ddNumber(s string) (int64, error) {
	mult := int64(1)
	for _, suf := range []struct {
		s string
		m int64
	}{{"kB", 1000}, {"MB", 1000000}, {"GB", 1000000000}, {"k", 1024}, {"K", 1024}, {"M", 1 << 20}, {"G", 1 << 30}, {"c", 1}, {"w", 2}, {"b", 512}} {
		if strings.HasSuffix(s, suf.s) {
			mult, s = suf.m, strings.TrimSuffix(s, suf.s)
			break
		}
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return 0, err
	}
	return int64(n) * mult, nil
}

type ddState struct {
	inFull, inPart, outFull, outPart int64
	total                            int64
}

// cmdDd is busybox dd: its options, its "N+M records in/out" summary, its
// read-error handling (conv=noerror skips the bad block, with sync the
// block is written as zeros, keeping every later byte in place).
func cmdDd(e *env) int {
	ibs, obs := int64(512), int64(512)
	var count, skip, seek int64 = 0, 0, 0
	hasCount := false
	var inName, outName string
	conv := map[string]bool{}
	iflag := map[string]bool{}
	oflag := map[string]bool{}
	status := ""
	usage := func() int {
		fmt.Fprint(e.stderr, ddUsage)
		return 1
	}
	for _, a := range e.args[1:] {
		if a == "--" {
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return usage()
		}
		num := func() (int64, bool) {
			n, err := ddNumber(v)
			if err != nil {
				e.errf("invalid number '%s'", v)
				return 0, false
			}
			return n, true
		}
		var ok2 bool
		switch k {
		case "bs":
			if ibs, ok2 = num(); !ok2 {
				return 1
			}
			obs = ibs
		case "ibs":
			if ibs, ok2 = num(); !ok2 {
				return 1
			}
		case "obs":
			if obs, ok2 = num(); !ok2 {
				return 1
			}
		case "count":
			if count, ok2 = num(); !ok2 {
				return 1
			}
			hasCount = true
		case "skip":
			if skip, ok2 = num(); !ok2 {
				return 1
			}
		case "seek":
			if seek, ok2 = num(); !ok2 {
				return 1
			}
		case "if":
			inName = v
		case "of":
			outName = v
		case "conv", "iflag", "oflag":
			allowed := map[string][]string{"conv": {"notrunc", "sync", "noerror", "fsync", "swab"},
				"iflag": {"skip_bytes", "count_bytes", "fullblock", "direct"}, "oflag": {"seek_bytes", "append", "direct"}}[k]
			set := map[string]map[string]bool{"conv": conv, "iflag": iflag, "oflag": oflag}[k]
			for _, w := range strings.Split(v, ",") {
				found := false
				for _, x := range allowed {
					found = found || x == w
				}
				if !found {
					e.errf("invalid argument '%s' to '%s'", w, k)
					return 1
				}
				set[w] = true
			}
		case "status":
			if v != "none" && v != "noxfer" && v != "progress" {
				e.errf("invalid argument '%s' to 'status'", v)
				return 1
			}
			status = v
		default:
			return usage()
		}
	}
	if ibs < 1 || obs < 1 || ibs > 1<<30 || obs > 1<<30 {
		e.errf("number %d is not in 1..%d range", max(ibs, obs), 1<<30)
		return 1
	}
	var in io.Reader = e.stdin
	var inFile *file
	inLabel := "standard input"
	if inName != "" {
		f, err := e.h.openFile(e.abs(inName), os.O_RDONLY, 0)
		if err != nil {
			e.errf("can't open '%s': %s", inName, strerror(err))
			return 1
		}
		defer f.Close()
		in, inFile, inLabel = f, f, inName
	}
	var out io.Writer = e.stdout
	var outFile *file
	outLabel := "standard output"
	if outName != "" {
		flag := os.O_WRONLY | os.O_CREATE
		if seek == 0 && !conv["notrunc"] {
			flag |= os.O_TRUNC
		}
		if oflag["append"] {
			flag |= os.O_APPEND
		}
		f, err := e.h.openFile(e.abs(outName), flag, 0o644)
		if err != nil {
			e.errf("can't open '%s': %s", outName, strerror(err))
			return 1
		}
		out, outFile, outLabel = f, f, outName
		if seek > 0 && !conv["notrunc"] {
			bs := obs
			if oflag["seek_bytes"] {
				bs = 1
			}
			if err := f.Truncate(seek * bs); err != nil && !f.discard {
				f.Close()
				e.errf("%s: %s", outName, strerror(err))
				return 1
			}
		}
	}
	st := &ddState{}
	printStatus := func() {
		if status == "none" {
			return
		}
		fmt.Fprintf(e.stderr, "%d+%d records in\n%d+%d records out\n", st.inFull, st.inPart, st.outFull, st.outPart)
		if e.h.sc.Options.DDThirdStatusLine && status != "noxfer" {
			fmt.Fprintf(e.stderr, "%d bytes (%sB) copied, %f seconds, %sB/s\n", st.total, humanSize(st.total), 1.0, humanSize(st.total))
		}
	}
	if skip > 0 {
		bs := ibs
		if iflag["skip_bytes"] {
			bs = 1
		}
		if inFile != nil {
			inFile.Seek(skip*bs, io.SeekCurrent)
		} else if _, err := io.CopyN(io.Discard, in, skip*bs); err != nil && err != io.EOF {
			e.errf("%s: %s", inLabel, strerror(err))
			return 1
		}
	}
	if seek > 0 && outFile != nil {
		bs := obs
		if oflag["seek_bytes"] {
			bs = 1
		}
		outFile.Seek(seek*bs, io.SeekCurrent)
	}
	ibuf := make([]byte, ibs)
	obuf := ibuf
	two := ibs != obs
	if two {
		obuf = make([]byte, obs)
	}
	ocount := int64(0)
	sigpipe := false
	write := func(b []byte) bool {
		n, err := writeFull(out, b)
		st.total += int64(n)
		if int64(n) == obs {
			st.outFull++
			return true
		}
		if n == len(b) {
			st.outPart++
			return true
		}
		if pipeStatus(err) == 141 && outFile == nil {
			sigpipe = true // killed by SIGPIPE: no message, no summary
			return false
		}
		e.errf("error writing '%s': %s", outLabel, strerror(err))
		return false
	}
	failWrite := func() int {
		if sigpipe {
			return 141
		}
		if outFile != nil {
			outFile.Close()
		}
		printStatus()
		return 1
	}
	for {
		if e.ctx.Err() != nil {
			return 130
		}
		want := ibs
		if hasCount {
			if count == 0 {
				break
			}
			if iflag["count_bytes"] && count < ibs {
				want = count
			}
		}
		n, err := ddRead(in, ibuf[:want], iflag["fullblock"])
		if n == 0 && err == nil {
			break
		}
		if err != nil {
			if !conv["noerror"] {
				e.errf("%s: %s", inLabel, strerror(err))
				return 1
			}
			e.errf("%s: %s", inLabel, strerror(err))
			if inFile != nil {
				inFile.Seek(ibs, io.SeekCurrent)
			}
			n = 0
		}
		if iflag["count_bytes"] {
			count -= int64(n)
		} else {
			count--
		}
		if int64(n) == ibs {
			st.inFull++
		} else {
			st.inPart++
			if conv["sync"] {
				clear(ibuf[n:ibs])
				n = int(ibs)
			}
		}
		if two {
			tmp := ibuf[:n]
			for len(tmp) > 0 {
				d := min(int64(len(tmp)), obs-ocount)
				copy(obuf[ocount:], tmp[:d])
				tmp = tmp[d:]
				ocount += d
				if ocount == obs {
					if !write(obuf) {
						return failWrite()
					}
					ocount = 0
				}
			}
		} else if n > 0 {
			if !write(ibuf[:n]) {
				return failWrite()
			}
		}
	}
	if ocount > 0 {
		if !write(obuf[:ocount]) {
			return failWrite()
		}
	}
	if outFile != nil {
		if err := outFile.Close(); err != nil {
			e.errf("%s: %s", outLabel, strerror(err))
			return 1
		}
	}
	printStatus()
	return 0
}

// ddRead reads one block: one read(2) worth, or a full block with
// iflag=fullblock. Read errors are returned with n == 0, as a failing
// read(2) returns -1.
func ddRead(r io.Reader, b []byte, full bool) (int, error) {
	if full {
		n, err := io.ReadFull(r, b)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = nil
		}
		if err != nil && n > 0 {
			return n, nil
		}
		return n, err
	}
	for {
		n, err := r.Read(b)
		if n > 0 {
			return n, nil
		}
		if err == io.EOF {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

func writeFull(w io.Writer, b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := w.Write(b[done:])
		done += n
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, io.ErrShortWrite
		}
	}
	return done, nil
}
