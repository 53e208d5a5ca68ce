package engine

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind classifies a token.
type tokKind uint8

const (
	tokEOF     tokKind = iota
	tokIdent           // plain identifier or keyword
	tokQuoted          // [bracketed] or "quoted" identifier (never a keyword)
	tokVar             // @name
	tokGlobal          // @@name
	tokNumber          // 123, 1.5, 1e3
	tokString          // '…'
	tokNString         // N'…'
	tokOp              // operators and punctuation
)

type token struct {
	kind tokKind
	text string // identifier/keyword as written (unquoted for tokQuoted), literal body for strings
	pos  int
	line int
}

// upper returns the keyword form of an identifier token.
func (t token) upper() string { return strings.ToUpper(t.text) }

// lex splits a batch into tokens. An unterminated string, quoted identifier or comment is a
// syntax error, as in SQL Server (105/102).
func lex(src string) ([]token, error) {
	var toks []token
	line := 1
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			depth := 0
			start := i
			for i < len(src) {
				if i+1 < len(src) && src[i] == '/' && src[i+1] == '*' {
					depth++
					i += 2
					continue
				}
				if i+1 < len(src) && src[i] == '*' && src[i+1] == '/' {
					depth--
					i += 2
					if depth == 0 {
						break
					}
					continue
				}
				if src[i] == '\n' {
					line++
				}
				i++
			}
			if depth != 0 {
				return nil, NewError(113, 15, 1, "Missing end comment mark '*/'.")
			}
			_ = start
		case c == '\'' || ((c == 'N' || c == 'n') && i+1 < len(src) && src[i+1] == '\''):
			kind := tokString
			start := i
			if c != '\'' {
				kind = tokNString
				i++
			}
			body, n, ok := scanQuoted(src[i:], '\'', '\'')
			if !ok {
				return nil, NewError(105, 15, 1, "Unclosed quotation mark after the character string '%s'.", truncate(src[i+1:], 100))
			}
			toks = append(toks, token{kind: kind, text: body, pos: start, line: line})
			line += strings.Count(src[i:i+n], "\n")
			i += n
		case c == '[':
			body, n, ok := scanQuoted(src[i:], '[', ']')
			if !ok {
				return nil, NewError(105, 15, 1, "Unclosed quotation mark after the character string '%s'.", truncate(src[i+1:], 100))
			}
			toks = append(toks, token{kind: tokQuoted, text: body, pos: i, line: line})
			i += n
		case c == '"':
			body, n, ok := scanQuoted(src[i:], '"', '"')
			if !ok {
				return nil, NewError(105, 15, 1, "Unclosed quotation mark after the character string '%s'.", truncate(src[i+1:], 100))
			}
			toks = append(toks, token{kind: tokQuoted, text: body, pos: i, line: line})
			i += n
		case c == '@':
			start := i
			kind := tokVar
			i++
			if i < len(src) && src[i] == '@' {
				kind = tokGlobal
				i++
			}
			j := scanIdent(src, i)
			if j == i {
				return nil, ErrSyntax("@")
			}
			toks = append(toks, token{kind: kind, text: src[start:j], pos: start, line: line})
			i = j
		case c >= '0' && c <= '9' || (c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9'):
			start := i
			for i < len(src) && src[i] >= '0' && src[i] <= '9' {
				i++
			}
			if i < len(src) && src[i] == '.' {
				i++
				for i < len(src) && src[i] >= '0' && src[i] <= '9' {
					i++
				}
			}
			if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
				j := i + 1
				if j < len(src) && (src[j] == '+' || src[j] == '-') {
					j++
				}
				if j < len(src) && src[j] >= '0' && src[j] <= '9' {
					for j < len(src) && src[j] >= '0' && src[j] <= '9' {
						j++
					}
					i = j
				}
			}
			toks = append(toks, token{kind: tokNumber, text: src[start:i], pos: start, line: line})
		case isIdentStart(src, i):
			j := scanIdent(src, i)
			toks = append(toks, token{kind: tokIdent, text: src[i:j], pos: i, line: line})
			i = j
		default:
			op := string(c)
			if i+1 < len(src) {
				two := src[i : i+2]
				switch two {
				case "<=", ">=", "<>", "!=", "!<", "!>":
					op = two
				}
			}
			if !strings.Contains("=<>!+-*/%(),.;~&|^", op[:1]) {
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, ErrSyntax(string(r))
			}
			toks = append(toks, token{kind: tokOp, text: op, pos: i, line: line})
			i += len(op)
		}
	}
	toks = append(toks, token{kind: tokEOF, pos: len(src), line: line})
	return toks, nil
}

// scanQuoted reads a quoted run starting at s[0] == open, where a doubled close is an escaped close.
// It returns the unescaped body and the number of bytes consumed.
func scanQuoted(s string, open, close byte) (string, int, bool) {
	var b strings.Builder
	i := 1
	for i < len(s) {
		if s[i] == close {
			if i+1 < len(s) && s[i+1] == close {
				b.WriteByte(close)
				i += 2
				continue
			}
			return b.String(), i + 1, true
		}
		b.WriteByte(s[i])
		i++
	}
	_ = open
	return "", 0, false
}

func isIdentStart(s string, i int) bool {
	c := s[i]
	if c == '_' || c == '#' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
		return true
	}
	if c >= utf8.RuneSelf {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return unicode.IsLetter(r)
	}
	return false
}

func scanIdent(s string, i int) int {
	for i < len(s) {
		c := s[i]
		if c == '_' || c == '#' || c == '$' || c == '@' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				i += n
				continue
			}
		}
		break
	}
	return i
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
