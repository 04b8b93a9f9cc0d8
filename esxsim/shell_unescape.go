package esxsim

import (
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// unescapeLiterals works around mvdan.cc/sh (v3.14) expanding redirect
// targets, case words and assigned values with expand.Literal, which keeps
// the backslash of an unquoted escape: the target of `> '/a/Tom'\”s'` became `/a/Tom\'s`,
// while ash (and the same interpreter's arguments, which go through
// expand.Fields) give `/a/Tom's`. esxi.Quote writes exactly that `'\”`
// for every single quote in a name, so a VM called "Tom's lab" was copied
// to the wrong file.
//
// The fix rewrites the parsed program before it runs: each unquoted literal
// with a backslash in those words becomes the single-quoted text ash would
// produce after quote removal. Single quotes also keep a leading "~" from
// tilde expansion, as the backslash did.
func unescapeLiterals(prog *syntax.File) {
	syntax.Walk(prog, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Redirect:
			if n.Op != syntax.Hdoc && n.Op != syntax.DashHdoc {
				unescapeWord(n.Word)
			}
		case *syntax.CaseClause:
			unescapeWord(n.Word)
		case *syntax.Assign:
			unescapeWord(n.Value)
		}
		return true
	})
}

func unescapeWord(w *syntax.Word) {
	if w == nil {
		return
	}
	for i, p := range w.Parts {
		lit, ok := p.(*syntax.Lit)
		if !ok || !strings.Contains(lit.Value, `\`) {
			continue
		}
		w.Parts[i] = &syntax.SglQuoted{Left: lit.ValuePos, Right: lit.ValueEnd, Value: removeBackslashes(lit.Value)}
	}
}

// removeBackslashes is POSIX quote removal for an unquoted literal: a
// backslash quotes the next character and disappears. (Line continuations
// never reach here; the parser drops them.)
func removeBackslashes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
