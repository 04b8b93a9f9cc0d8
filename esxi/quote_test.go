package esxi

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", `''`},
		{"plain", `'plain'`},
		{"it's", `'it'\''s'`},
		{"''", `''\'''\'''`},
		{"$(touch PWNED)", `'$(touch PWNED)'`},
		{"a\nb", "'a\nb'"},
		{`back\slash`, `'back\slash'`},
	} {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// nastyStrings are the strings every quoting test runs: shell syntax,
// quotes of both kinds, non-UTF-8 bytes, and random mixes of them.
func nastyStrings(n int) []string {
	fixed := []string{"", " ", "'", "''", `"`, `\`, `\'`, "'\\''", "$", "$(touch PWNED)", "`touch PWNED`",
		"${HOME}", "a;touch PWNED", "a&&b", "a|b", "a\nb", "\n", "\t", "*", "?", "[a-z]", "~", "~root",
		"#comment", "-n", "-e", "--", "!", "{a,b}", "%s", "\xff\xfe", "é", "a=b", "\r\n", "\x01\x7f"}
	alphabet := []string{"'", `"`, `\`, "$", "`", " ", "\n", "\t", ";", "&", "|", "<", ">", "(", ")", "*", "?",
		"[", "]", "{", "}", "~", "#", "!", "=", "%", "-", "a", "Z", "0", "/", ".", "\xff", "é"}
	r := rand.New(rand.NewPCG(1, 2))
	out := fixed
	for range n {
		var b strings.Builder
		for range r.IntN(16) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		out = append(out, b.String())
	}
	return out
}

// The pure-Go shell tokenizer agrees that Quote makes exactly one word with
// no expansion in it.
func TestQuoteOneWord(t *testing.T) {
	t.Parallel()
	for _, s := range nastyStrings(2000) {
		toks, err := shTokens(Quote(s))
		if err != nil {
			t.Fatalf("Quote(%q) = %s: %v", s, Quote(s), err)
		}
		if len(toks) != 1 || toks[0].Op || toks[0].Text != s {
			t.Fatalf("Quote(%q) = %s parses as %q", s, Quote(s), words(toks))
		}
	}
}

// Real busybox sh prints back exactly the string: sh -c "printf %s Q".
func TestQuoteBusybox(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	for _, s := range nastyStrings(150) {
		out, errOut, rc := h.run(t, "printf %s "+Quote(s))
		if rc != 0 || out != s {
			t.Fatalf("sh -c 'printf %%s %s': got %q (exit %d, stderr %q), want %q", Quote(s), out, rc, errOut, s)
		}
	}
	noFile(t, "PWNED", h.work)
}

func FuzzQuote(f *testing.F) {
	for _, s := range nastyStrings(20) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			t.Skip("NUL cannot be quoted; the builders reject it")
		}
		q := Quote(s)
		toks, err := shTokens(q)
		if err != nil || len(toks) != 1 || toks[0].Op || toks[0].Text != s {
			t.Fatalf("Quote(%q) = %s parses as %q, %v", s, q, words(toks), err)
		}
		// Quote composes: two quoted words stay two words.
		toks, err = shTokens(q + " " + Quote(s+"'"))
		if err != nil || !slices.Equal(words(toks), []string{s, s + "'"}) {
			t.Fatalf("two quoted words parse as %q, %v", words(toks), err)
		}
	})
}
