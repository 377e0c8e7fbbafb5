package main

import (
	"errors"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/posixshm/posixshm/posixshm"
)

// quoted returns s as it is when it is plain printable text, and as a Go
// string literal (strconv.Quote) when it is not: empty, not UTF-8, with a
// control or other non-printing character (a newline, a NUL), with
// leading or trailing spaces, or beginning with a double quote. Names and
// paths go through it wherever they are printed, so that no name can break
// a table or a one-per-line listing, vanish, or pass for another.
func quoted(s string) string {
	if s == "" || !utf8.ValidString(s) || strings.TrimSpace(s) != s || s[0] == '"' {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// plural is n and word, in the plural unless n is 1: "1 object", "2
// objects", "2 processes".
func plural(n int, word string) string {
	s := strconv.Itoa(n) + " " + word
	switch {
	case n == 1:
	case strings.HasSuffix(word, "s"):
		s += "es"
	default:
		s += "s"
	}
	return s
}

// describe is err's message with the name and file in it quoted where they
// are not plain text (see quoted). The libraries' errors read "<op> <name>:
// <file>: <reason>": an *fs.PathError around an error that begins with the
// file, which is either a *posixshm.FileError's File or, for the segment
// package's header errors, the file of the name in the layout l.
func describe(err error, l posixshm.Layout) string {
	var pe *fs.PathError
	if !errors.As(err, &pe) || err != error(pe) {
		return err.Error()
	}
	inner := pe.Err.Error()
	files := []string{}
	var fe *posixshm.FileError
	if errors.As(pe.Err, &fe) {
		files = append(files, fe.File)
	}
	if l != nil {
		if p, perr := l.Path(pe.Path); perr == nil {
			files = append(files, p)
		}
	}
	for _, f := range files {
		if f != "" && strings.HasPrefix(inner, f+": ") {
			inner = quoted(f) + inner[len(f):]
			break
		}
	}
	return pe.Op + " " + quoted(pe.Path) + ": " + inner
}

// shellQuote is s as a word a shell reads back as s, for commands that
// messages suggest: as it is if it holds only characters no shell treats
// specially, else in single quotes. A string that is not printable text
// is given as quoted gives it instead: such a name needs care anyway.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	if quoted(s) != s && s != "" {
		return quoted(s)
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// humanSize formats n bytes as ls -h does: in powers of 1024 with a K, M,
// G, T, P or E suffix, rounded up, with one decimal below 10 ("4.9K",
// "12K", "1.0M"); fewer than 1024 bytes as they are ("832").
func humanSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10)
	}
	const units = "KMGTPE"
	v := float64(n)
	for i := 0; i < len(units); i++ {
		v /= 1024
		if v < 10 {
			if r := math.Ceil(v*10) / 10; r < 10 {
				return strconv.FormatFloat(r, 'f', 1, 64) + units[i:i+1]
			}
		}
		if r := math.Ceil(v); r < 1024 || i == len(units)-1 {
			return strconv.FormatFloat(r, 'f', 0, 64) + units[i:i+1]
		}
	}
	panic("unreachable")
}
