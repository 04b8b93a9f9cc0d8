package hashlog

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// sumsEscaper applies coreutils' escaping for names in *sum output (GNU
// coreutils 9: backslash, newline and carriage return).
var sumsEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`)

// writeSums renders "<hex>  <path>" lines that md5sum -c (sha1sum,
// sha256sum) accepts when run in the evidence folder. A name holding a
// backslash, newline or carriage return is escaped and its line starts
// with a backslash, exactly as md5sum itself writes it.
func (m *Manifest) writeSums(b *bytes.Buffer, alg string) error {
	for _, f := range m.Files {
		if f.Hashes[alg] == "" {
			return fmt.Errorf("no %s recorded for %s", alg, strconv.Quote(f.Path))
		}
	}
	for _, f := range m.Files {
		name := f.Path
		if strings.ContainsAny(name, "\\\n\r") {
			b.WriteString(`\`)
			name = sumsEscaper.Replace(name)
		}
		b.WriteString(f.Hashes[alg])
		b.WriteString("  ")
		b.WriteString(name)
		b.WriteString("\n")
	}
	return nil
}
