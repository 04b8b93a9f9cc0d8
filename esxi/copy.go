package esxi

import (
	"strconv"
	"strings"
)

// CopyOptions chooses how [CmdCopy] hashes what it reads.
//
// The host reads the source once and hashes that same stream: dd | tee DST |
// md5sum. A second algorithm in the same pass needs a second reader of the
// stream. busybox ash has no process substitution (>(sha256sum)), so tee
// also writes a named pipe that a background sha256sum reads. The other ways
// were worse: hashing the copy on the mount afterwards re-reads it over NFS
// and only checks what the sink already hashes itself, and hashing the
// source in a second pass doubles the time on a multi-terabyte disk (that is
// the orchestrator's two-pass mode, built from [CmdHash] and a plain copy).
type CopyOptions struct {
	// Hashes are computed on the host from the single read of the source:
	// none (plain dd if=SRC of=DST), one (dd | tee DST | TOOL), or two (the
	// second reads FIFO, which tee also writes).
	Hashes []HashAlg
	// FIFO is an absolute host path for the named pipe, needed for two
	// hashes: somewhere writable that is not the sink, such as
	// /tmp/esxsink-<id>.fifo. It must not exist (mkfifo fails rather than
	// reuse a file); the command removes it when done.
	FIFO string
	// Parts, when set, read the source as these consecutive dd runs (see
	// [RescueParts]); bs and Size are then not used for reading.
	Parts []ReadPart
	// StopFile, with Size or Parts, makes the copy stoppable from another
	// session: the read goes in runs of at most [StopChunk] bytes and ends
	// early, with a failing status, once this host path exists (create
	// it with [CmdStopCopies]). Killing the SSH session does not stop a
	// pipeline on the host: without this a cancelled copy reads on to the
	// end and keeps the sink's mount busy.
	StopFile string
	// StopChunk is the most one dd run reads when StopFile is set
	// (default [StopChunk]).
	StopChunk int64
	// Size is the source's exact size in bytes, or 0 when unknown. With it,
	// bs need not divide the size: the copy reads Size/bs whole blocks and
	// then the rest in 512-byte and 1-byte blocks, all conv=noerror,sync,
	// and stops at Size (a log that grows meanwhile is copied as it was
	// when listed, not padded). Without it, bs must divide the size.
	Size int64
}

// maxBlockSize bounds dd's bs= so a typo cannot ask a small host for a huge
// buffer.
const maxBlockSize = 1 << 30

// CmdCopy copies src to dst on the host with dd conv=noerror,sync, which
// keeps every later byte at its offset when a read fails (plain
// conv=noerror would shift them): the bad block is written as zeros.
//
// conv=sync also pads a short final block to bs, so bs must divide the
// source size or the copy grows; pick it with [CopyBlockSize].
//
// With hashes the command is one pipeline under set -o pipefail, so its
// exit status is non-zero when dd, tee or a hasher fails (a dying FIFO
// hasher makes tee die of SIGPIPE and the copy short: the status says so).
// The host tools are checked first, so a missing sha256sum fails before a
// byte is copied with "sh: sha256sum: not found" (see [ErrCommandNotFound])
// instead of hanging tee on a FIFO nobody reads. Standard output is one
// "HASH  -" line per algorithm, in either order (parse with [CopyHashes]);
// dd's record counts are on standard error (parse with [ParseDDStatus]).
func CmdCopy(src, dst string, bs int64, opts CopyOptions) (string, error) {
	const cmd = "copy"
	qs, err := quotePath(cmd, "source", src)
	if err != nil {
		return "", err
	}
	qd, err := quotePath(cmd, "destination", dst)
	if err != nil {
		return "", err
	}
	for _, a := range opts.Hashes {
		if a.Tool() == "" {
			return "", argErr(cmd, "hash", string(a), "is not md5, sha1, sha256 or sha512")
		}
	}
	blocks := " bs=" + strconv.FormatInt(bs, 10) + " conv=noerror,sync"
	dd, split, err := readCommand(cmd, qs, bs, opts)
	if err != nil {
		return "", err
	}
	switch len(opts.Hashes) {
	case 0:
		if split {
			return dd + " > " + qd, nil
		}
		return "dd if=" + qs + " of=" + qd + blocks, nil
	case 1:
		return pipefail + toolCheck("dd", "tee", opts.Hashes[0].Tool()) +
			dd + " | tee " + qd + " | " + opts.Hashes[0].Tool(), nil
	case 2:
		if opts.Hashes[0] == opts.Hashes[1] {
			return "", argErr(cmd, "hash", string(opts.Hashes[1]), "is given twice")
		}
		qf, err := quotePath(cmd, "FIFO", opts.FIFO)
		if err != nil {
			return "", err
		}
		if opts.FIFO == src || opts.FIFO == dst {
			return "", argErr(cmd, "FIFO", opts.FIFO, "is the source or the destination")
		}
		first, second := opts.Hashes[0].Tool(), opts.Hashes[1].Tool()
		return pipefail + toolCheck("dd", "tee", first, second, "mkfifo", "rm") +
			"mkfifo " + qf + " || exit 1; " +
			second + " < " + qf + " & h=$!; " +
			dd + " | tee " + qd + " " + qf + " | " + first + "; rc=$?; " +
			"wait $h; h=$?; rm -f " + qf + "; [ $rc -eq 0 ] && rc=$h; exit $rc", nil
	}
	return "", argErr(cmd, "number of hashes", strconv.Itoa(len(opts.Hashes)), "is more than two")
}

// readCommand is the shell text that reads the quoted source as a copy
// with bs and opts does, to standard output: one dd, or the parts of
// [CopyParts] (split true).
func readCommand(cmd, qs string, bs int64, opts CopyOptions) (dd string, split bool, err error) {
	if bs < 1 || bs > maxBlockSize {
		return "", false, argErr(cmd, "block size", strconv.FormatInt(bs, 10), "is not between 1 and 1 GiB")
	}
	if opts.Size < 0 {
		return "", false, argErr(cmd, "size", strconv.FormatInt(opts.Size, 10), "is negative")
	}
	stop := ""
	if opts.StopFile != "" {
		if stop, err = quotePath(cmd, "stop file", opts.StopFile); err != nil {
			return "", false, err
		}
	}
	parts := CopyParts(bs, opts)
	if len(parts) == 0 {
		return "dd if=" + qs + " bs=" + strconv.FormatInt(bs, 10) + " conv=noerror,sync", false, nil
	}
	if err := checkParts(cmd, parts); err != nil {
		return "", false, err
	}
	chunk := opts.StopChunk
	if chunk <= 0 {
		chunk = StopChunk
	}
	return readParts(qs, parts, stop, chunk), true, nil
}

// CopyParts returns the dd runs in which [CmdCopy] with bs and opts reads
// its source: opts.Parts when set; with an exact size that bs does not
// divide, or a stop file, [RescueParts] of that size; nil when the copy is
// one dd at bs to the end of the source.
func CopyParts(bs int64, opts CopyOptions) []ReadPart {
	if len(opts.Parts) > 0 {
		return opts.Parts
	}
	if opts.Size > 0 && (opts.Size%bs != 0 || opts.StopFile != "") {
		return RescueParts(opts.Size, bs, nil)
	}
	return nil
}

// CmdHashRead hashes src on the host reading it exactly as [CmdCopy] with
// the same bs and opts reads it (dd conv=noerror,sync, in the same parts),
// writing it nowhere: DD | TOOL, under pipefail. An unreadable block is
// hashed as the zeros the copy writes for it, so a source with bad sectors
// is hashed, not failed, and its hash compares with the copy's. This is
// the first read of a two-pass copy. opts.Hashes and opts.FIFO must be
// unset. Standard output is "HASH  -" ([ParseHash]); dd's record counts
// and read errors are on standard error ([ParseDDStatus]).
func CmdHashRead(src string, bs int64, alg HashAlg, opts CopyOptions) (string, error) {
	const cmd = "hash read"
	if alg.Tool() == "" {
		return "", argErr(cmd, "algorithm", string(alg), "is not md5, sha1, sha256 or sha512")
	}
	if len(opts.Hashes) > 0 || opts.FIFO != "" {
		return "", argErr(cmd, "options", "hashes", "are for a copy: the hash read computes one hash and needs no FIFO")
	}
	qs, err := quotePath(cmd, "source", src)
	if err != nil {
		return "", err
	}
	dd, _, err := readCommand(cmd, qs, bs, opts)
	if err != nil {
		return "", err
	}
	return pipefail + toolCheck("dd", alg.Tool()) + dd + " | " + alg.Tool(), nil
}

// pipefail makes a pipeline fail when any stage fails. An ash without it
// prints an error and carries on, hence the explicit exit.
const pipefail = "set -o pipefail || exit 125; "

// toolCheck fails the command before it starts when a host tool is missing,
// printing the same "sh: X: not found" line the shell itself would.
func toolCheck(tools ...string) string {
	return "for c in " + strings.Join(tools, " ") +
		`; do command -v $c >/dev/null || { echo "sh: $c: not found" >&2; exit 127; }; done; `
}

// CmdRemoveFIFO removes a FIFO left behind by a [CmdCopy] that was cut off
// (a lost SSH session). It removes nothing but a named pipe: the test and
// the removal are one command line, and a regular file of that name stays.
func CmdRemoveFIFO(path string) (string, error) {
	q, err := quotePath("remove FIFO", "FIFO", path)
	if err != nil {
		return "", err
	}
	return "if [ -p " + q + " ]; then rm -f " + q + "; fi", nil
}

// CmdHash hashes a file or device on the host: TOOL < PATH. Reading through a
// redirection keeps the path out of the output ("HASH  -"), so names with
// newlines or backslashes cannot confuse the parser ([ParseHash]).
func CmdHash(alg HashAlg, path string) (string, error) {
	if alg.Tool() == "" {
		return "", argErr("hash", "algorithm", string(alg), "is not md5, sha1, sha256 or sha512")
	}
	q, err := quotePath("hash", "file", path)
	if err != nil {
		return "", err
	}
	return alg.Tool() + " < " + q, nil
}

// CmdHashPrefix hashes the first size bytes of a file on the host:
// head -c SIZE < PATH | TOOL, under pipefail so a failing read fails the
// command. A file that grows while it is copied is copied to the size
// measured before the copy; its hash on the host must cover those bytes
// and no more. Output as [CmdHash] (parse with [ParseHash]).
func CmdHashPrefix(alg HashAlg, path string, size int64) (string, error) {
	const cmd = "hash"
	if alg.Tool() == "" {
		return "", argErr(cmd, "algorithm", string(alg), "is not md5, sha1, sha256 or sha512")
	}
	q, err := quotePath(cmd, "file", path)
	if err != nil {
		return "", err
	}
	if size < 0 {
		return "", argErr(cmd, "size", strconv.FormatInt(size, 10), "is negative")
	}
	return pipefail + "head -c " + strconv.FormatInt(size, 10) + " < " + q + " | " + alg.Tool(), nil
}

// CopyBlockSize returns the largest power of two no bigger than max that
// divides size, for dd's bs=: with conv=sync a bs that does not divide the
// size pads the last block and the copy no longer matches the source. A
// size of 0 (an empty file) gets max. An odd size gets 1, a syscall per
// byte: when the exact size is known, give [CmdCopy] CopyOptions.Size and
// CopyBlockSize(0, max) instead.
func CopyBlockSize(size, max int64) int64 {
	if max < 1 {
		return 1
	}
	bs := int64(1)
	for bs*2 <= max && bs*2 <= maxBlockSize {
		bs *= 2
	}
	for bs > 1 && size%bs != 0 {
		bs /= 2
	}
	return bs
}
