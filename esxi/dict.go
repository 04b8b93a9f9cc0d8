package esxi

import (
	"strconv"
	"strings"
)

// DictEntry is one key = "value" line of a VMware dictionary file.
type DictEntry struct {
	Key   string // as written
	Value string // with |XX escapes decoded
	Line  int
}

// Dict is a VMware dictionary file: the format of .vmx and .vmsd. Keys are
// case-insensitive ("memSize" and "memsize" are one key).
type Dict struct {
	Entries []DictEntry    // in file order
	index   map[string]int // lower-case key -> index of its last entry
	count   map[string]int // lower-case key -> number of entries
}

// ParseDict parses dictionary text. source names the file in errors. Lines
// are blank, comments ("#", including a "#!" first line) or key = "value";
// values use |XX hex escapes for bytes that cannot appear in them ("|22" is
// a double quote, "|7C" a bar); a "|" not followed by two hex digits is
// kept as is. A bare (unquoted) value is accepted. Values may not span
// lines. A key given twice keeps its last value; [Dict.Repeated] lists them.
// Text is taken as bytes: a value in a legacy .encoding stays undecoded.
func ParseDict(source string, text []byte) (*Dict, error) {
	d := &Dict{index: map[string]int{}, count: map[string]int{}}
	for i, raw := range lines(string(text)) {
		n := i + 1
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' {
			continue
		}
		if strings.IndexByte(line, 0) >= 0 {
			return nil, parseErr(source, n, "NUL byte: this is not a text file")
		}
		key, rest, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok {
			return nil, parseErr(source, n, "%q is not key = \"value\"", clip(line))
		}
		if key == "" || strings.ContainsAny(key, " \t\"") {
			return nil, parseErr(source, n, "malformed key %q", clip(key))
		}
		val, err := dictValue(strings.TrimSpace(rest))
		if err != nil {
			return nil, parseErr(source, n, "%s: %s", clip(key), err)
		}
		lk := asciiLower(key)
		d.index[lk] = len(d.Entries)
		d.count[lk]++
		d.Entries = append(d.Entries, DictEntry{Key: key, Value: val, Line: n})
	}
	return d, nil
}

type dictError string

// Error implements error.
func (e dictError) Error() string { return string(e) }

func dictValue(v string) (string, error) {
	if v == "" || v[0] != '"' {
		if strings.ContainsRune(v, '"') {
			return "", dictError("stray quote in unquoted value " + strconv.Quote(clip(v)))
		}
		return unescapeBars(v), nil
	}
	end := strings.IndexByte(v[1:], '"')
	if end < 0 {
		return "", dictError("unterminated quoted value " + strconv.Quote(clip(v)))
	}
	if tail := strings.TrimSpace(v[end+2:]); tail != "" && tail[0] != '#' {
		return "", dictError("text " + strconv.Quote(clip(tail)) + " after the closing quote")
	}
	return unescapeBars(v[1 : end+1]), nil
}

func unescapeBars(s string) string {
	if !strings.Contains(s, "|") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '|' && i+2 < len(s) && isHex(s[i+1:i+3]) {
			x, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(x))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Get returns the value of key (any case) and whether it is there.
func (d *Dict) Get(key string) (string, bool) {
	i, ok := d.index[asciiLower(key)]
	if !ok {
		return "", false
	}
	return d.Entries[i].Value, true
}

// String returns the value of key, or "".
func (d *Dict) String(key string) string {
	v, _ := d.Get(key)
	return v
}

// Bool returns the value of key read as a boolean (TRUE, true, yes, 1 /
// FALSE, false, no, 0) and whether it is present and one of those.
func (d *Dict) Bool(key string) (value, ok bool) {
	v, present := d.Get(key)
	if !present {
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "1":
		return true, true
	case "false", "no", "0":
		return false, true
	}
	return false, false
}

// Line returns the line of key's (last) entry, or 0.
func (d *Dict) Line(key string) int {
	if i, ok := d.index[asciiLower(key)]; ok {
		return d.Entries[i].Line
	}
	return 0
}

// asciiLower folds ASCII letters only: VMware's keys are ASCII, and Unicode
// folding would make distinct keys equal ("K" and the Kelvin sign).
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// Repeated returns the keys (lower case) given more than once, in order of
// first appearance.
func (d *Dict) Repeated() []string {
	var keys []string
	seen := map[string]bool{}
	for _, e := range d.Entries {
		lk := asciiLower(e.Key)
		if d.count[lk] > 1 && !seen[lk] {
			seen[lk] = true
			keys = append(keys, lk)
		}
	}
	return keys
}
