package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// decodeError records a decoding error of data: a syntax error with its
// line, column and the excerpt the TOML library draws, and a hint when
// the mistake is a value left unquoted.
func (c *collector) decodeError(err error, data []byte) {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		c.add("", "%s", strings.TrimPrefix(err.Error(), "toml: "))
		return
	}
	// The TOML parser quotes the offending text raw, newlines included;
	// one problem stays on one line.
	msg := strings.ReplaceAll(pe.Message, "\n", `\n`)
	if hint := quoteHint(data, pe.Position.Start); hint != "" {
		msg += "; " + hint
	}
	c.errs = append(c.errs, &Error{
		File:    c.file,
		Line:    pe.Position.Line,
		Column:  pe.Position.Col,
		Msg:     msg,
		Excerpt: excerpt(pe, data),
	})
}

// excerpt returns the lines of the file around a syntax error with a
// caret under it, as the TOML library draws them below its own heading;
// "" when the error's position is not in data (the library then indexes
// past its lines: an unterminated escape at the end of the file, for
// one).
func excerpt(pe toml.ParseError, data []byte) string {
	p := pe.Position
	if p.Line < 1 || p.Line > strings.Count(string(data), "\n")+1 || p.Col < 1 || p.Len < 0 {
		return ""
	}
	// "toml: error: MSG\n\nAt line L, column C:\n\n<lines>"
	parts := strings.SplitN(pe.ErrorWithPosition(), "\n\n", 3)
	if len(parts) < 3 {
		return ""
	}
	return strings.TrimRight(parts[2], "\n")
}

// quoteHint says how to write the bare word around offset at of data
// when it is an address or a duration, which TOML reads as a broken
// number: they are strings and must be quoted.
func quoteHint(data []byte, at int) string {
	if at < 0 || at >= len(data) {
		return ""
	}
	const edges = " \t\r\n=,[]{}#"
	text := string(data)
	start := strings.LastIndexAny(text[:at], edges) + 1
	end := len(text)
	if i := strings.IndexAny(text[at:], edges); i >= 0 {
		end = at + i
	}
	w := text[start:end]
	switch {
	case w == "":
		return ""
	case isAddress(w):
		return fmt.Sprintf("an address is a string: quote it, as in %q", w)
	case isDuration(w):
		return fmt.Sprintf("a duration is a string: quote it, as in %q", w)
	}
	return ""
}

// isAddress reports whether w is an IP address, with or without a port
// or a prefix length.
func isAddress(w string) bool {
	if _, err := netip.ParseAddr(w); err == nil {
		return true
	}
	if _, err := netip.ParseAddrPort(w); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(w)
	return err == nil
}

// isDuration reports whether w is a Go duration with a unit ("2s").
func isDuration(w string) bool {
	_, err := time.ParseDuration(w)
	return err == nil && strings.ContainsAny(w, "nsuµmh")
}
