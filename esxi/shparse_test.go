package esxi

import (
	"fmt"
	"strings"
)

// shToken is a word or an operator of a command line.
type shToken struct {
	Text string
	Op   bool // ; | || & && < > >>
}

// shTokens splits a command line the way sh does, for the constructs the
// simple builders emit: unquoted words, '...' strings, backslash escapes,
// and the operators ; | & < >. Anything sh would expand or treat as syntax
// this parser does not model ($, backquote, double quotes, globs, a leading
// ~ or #, parentheses, braces, an unquoted newline) is an error, so a
// command that parses here has no expansion in it at all.
func shTokens(cmd string) ([]shToken, error) {
	var toks []shToken
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			toks = append(toks, shToken{Text: cur.String()})
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == '\'':
			j := strings.IndexByte(cmd[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote at %d", i)
			}
			cur.WriteString(cmd[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '\\':
			if i+1 >= len(cmd) || cmd[i+1] == '\n' {
				return nil, fmt.Errorf("backslash at the end of a line at %d", i)
			}
			cur.WriteByte(cmd[i+1])
			inWord = true
			i++
		case strings.IndexByte(";|&<>", c) >= 0:
			flush()
			op := string(c)
			if i+1 < len(cmd) && cmd[i+1] == c && c != '<' && c != ';' {
				op += op
				i++
			}
			toks = append(toks, shToken{Text: op, Op: true})
		case strings.IndexByte("$`\"*?[(){}\n", c) >= 0,
			!inWord && (c == '~' || c == '#'):
			return nil, fmt.Errorf("unquoted %q at %d", c, i)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return toks, nil
}

// words returns the texts of toks, operators as themselves.
func words(toks []shToken) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = t.Text
		if t.Op {
			out[i] = "<op " + t.Text + ">"
		}
	}
	return out
}
