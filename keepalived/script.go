package keepalived

import (
	"errors"
	"strconv"
	"strings"
)

// splitQuoted splits s as keepalived's alloc_strvec_quoted_escaped does
// for scripts: white space separates words except inside double or single
// quotes, which are removed (`ab" c"d` is the one word "ab cd"), and a
// backslash escapes the next character, with the C escapes \a \b \E \f
// \n \r \t \v, octal \nnn, hexadecimal \xHH and control \cC.
func splitQuoted(s string) ([]string, error) {
	var words []string
	for {
		s = strings.TrimLeft(s, whiteSpace)
		if s == "" {
			return words, nil
		}
		var w strings.Builder
		var quote byte
		i := 0
	word:
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\':
				if i+1 == len(s) {
					return nil, errors.New("a '\\' ends the line")
				}
				r, n := unescape(s[i+1:])
				w.WriteString(r)
				i += n
			case quote != 0 && c == quote:
				quote = 0
			case quote != 0:
				w.WriteByte(c)
			case c == '"' || c == '\'':
				quote = c
			case strings.IndexByte(whiteSpace, c) >= 0:
				break word
			default:
				w.WriteByte(c)
			}
		}
		if quote != 0 {
			return nil, errors.New("missing terminating " + string(quote))
		}
		words = append(words, w.String())
		s = s[i:]
	}
}

// unescape decodes the escape after a backslash at the start of s and
// returns it with the number of bytes it used.
func unescape(s string) (string, int) {
	switch c := s[0]; {
	case c == 'x' && len(s) > 1 && isHex(s[1]):
		n := 1
		for n < len(s) && isHex(s[n]) {
			n++
		}
		v, _ := strconv.ParseUint(s[1:n], 16, 64)
		return string([]byte{byte(v)}), n
	case c == 'c' && len(s) > 1:
		return string([]byte{s[1] & 0x1f}), 2
	case c >= '0' && c <= '7':
		n := 1
		for n < len(s) && n < 3 && s[n] >= '0' && s[n] <= '7' {
			n++
		}
		v, _ := strconv.ParseUint(s[:n], 8, 64)
		return string([]byte{byte(v)}), n
	default:
		if r, ok := map[byte]string{'a': "\a", 'b': "\b", 'E': "\x1b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t", 'v': "\v"}[c]; ok {
			return r, 1
		}
		return s[:1], 1
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// command is a script or notify line converted to an argv.
type command struct {
	argv []string
	// line is the command line keepalived reads (its second word).
	line string
	// shell is true when argv is /bin/sh -c line because line has shell
	// syntax.
	shell bool
	// extra are the words after the command line: for a notify script,
	// the user and group to run it as.
	extra []string
}

// parseCommand reads a script or notify line as keepalived 2 does: the
// line is split with quotes and escapes, its second word is the command
// line, and that is split the same way into the program and its
// arguments, which keepalived runs without a shell. A command line with
// shell syntax outside single quotes (pipes, redirections, $, ...) is
// given to /bin/sh -c instead, as keepalived 1 did: keepalived 2 would
// have passed those characters to the program as arguments.
func parseCommand(n *Node) (command, error) {
	words, err := splitQuoted(n.Line)
	if err != nil {
		return command{}, err
	}
	if len(words) < 2 || words[1] == "" {
		return command{}, errors.New("no command given")
	}
	c := command{line: words[1]}
	if len(words) > 2 {
		c.extra = words[2:]
	}
	if shellSyntax(c.line) {
		c.argv, c.shell = []string{"/bin/sh", "-c", c.line}, true
		return c, nil
	}
	if c.argv, err = splitQuoted(c.line); err != nil {
		return command{}, err
	}
	if len(c.argv) == 0 {
		return command{}, errors.New("no command given")
	}
	return c, nil
}

// shellSyntax says whether a shell would read s differently from
// keepalived: operators, redirections, expansions or globs outside
// single quotes, or an assignment before the program.
func shellSyntax(s string) bool {
	var quote byte
	wordStart := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			}
		case c == '\\':
			i++
		case quote == '"':
			if c == '"' {
				quote = 0
			} else if c == '$' || c == '`' {
				return true
			}
		case c == '"' || c == '\'':
			quote = c
		case strings.IndexByte("|&;<>()$`*?[", c) >= 0:
			return true
		case wordStart && (c == '~' || c == '#'):
			return true
		}
		wordStart = quote == 0 && strings.IndexByte(whiteSpace, c) >= 0
	}
	first, _, _ := strings.Cut(strings.TrimLeft(s, whiteSpace), " ")
	return strings.Contains(first, "=")
}
