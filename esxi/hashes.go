package esxi

import (
	"strings"
)

// HashAlg is a hash the host can compute with its *sum tool.
type HashAlg string

// Hash algorithms and their busybox tools.
const (
	MD5    HashAlg = "md5"
	SHA1   HashAlg = "sha1"
	SHA256 HashAlg = "sha256"
	SHA512 HashAlg = "sha512"
)

// Tool is the host command that computes the hash ("md5sum" ...), or "" for
// an unknown algorithm.
func (a HashAlg) Tool() string {
	if a.HexLen() == 0 {
		return ""
	}
	return string(a) + "sum"
}

// HexLen is the length of the hash in hex digits, or 0 for an unknown
// algorithm. The lengths differ, so a line of *sum output names its
// algorithm by its length alone.
func (a HashAlg) HexLen() int {
	switch a {
	case MD5:
		return 32
	case SHA1:
		return 40
	case SHA256:
		return 64
	case SHA512:
		return 128
	}
	return 0
}

func algByHexLen(n int) HashAlg {
	for _, a := range []HashAlg{MD5, SHA1, SHA256, SHA512} {
		if a.HexLen() == n {
			return a
		}
	}
	return ""
}

// Sum is one line of *sum output.
type Sum struct {
	Alg  HashAlg // from the length of Hex
	Hex  string  // lower case
	Name string  // "-" for standard input
}

// ParseSums parses md5sum/sha256sum output: "HEX  NAME" (or "HEX *NAME")
// lines. Blank lines are skipped; any other line is an error.
func ParseSums(out string) ([]Sum, error) {
	const src = "hash output"
	var sums []Sum
	for i, line := range lines(out) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		hex, name, ok := strings.Cut(line, " ")
		if !ok {
			return nil, parseErr(src, i+1, "%q is not HASH NAME", clip(line))
		}
		alg := algByHexLen(len(hex))
		if alg == "" || !isHex(hex) {
			return nil, parseErr(src, i+1, "%q is not an MD5, SHA-1, SHA-256 or SHA-512 hex digest", clip(hex))
		}
		if len(name) > 0 && (name[0] == ' ' || name[0] == '*') {
			name = name[1:]
		}
		sums = append(sums, Sum{Alg: alg, Hex: strings.ToLower(hex), Name: name})
	}
	return sums, nil
}

// ParseHash parses the output of [CmdHash]: exactly one digest of alg.
func ParseHash(out string, alg HashAlg) (string, error) {
	got, err := CopyHashes(out, []HashAlg{alg})
	if err != nil {
		return "", err
	}
	return got[alg], nil
}

// CopyHashes parses the standard output of [CmdCopy] or [CmdHash]: exactly
// one digest for each algorithm in algs, in any order (a FIFO hasher may
// finish first), and nothing else.
func CopyHashes(out string, algs []HashAlg) (map[HashAlg]string, error) {
	const src = "hash output"
	sums, err := ParseSums(out)
	if err != nil {
		return nil, err
	}
	want := map[HashAlg]bool{}
	for _, a := range algs {
		want[a] = true
	}
	got := map[HashAlg]string{}
	for _, s := range sums {
		if !want[s.Alg] {
			return nil, parseErr(src, 0, "unexpected %s digest %s", s.Alg, s.Hex)
		}
		if _, dup := got[s.Alg]; dup {
			return nil, parseErr(src, 0, "two %s digests", s.Alg)
		}
		got[s.Alg] = s.Hex
	}
	for _, a := range algs {
		if _, ok := got[a]; !ok {
			return nil, parseErr(src, 0, "no %s digest in the output", a)
		}
	}
	return got, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// lines splits output into lines without their LF or CRLF ends. A trailing
// newline does not make an extra empty line.
func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimSuffix(l, "\r")
	}
	return ls
}
