package config

import (
	"strconv"
	"strings"
)

// Error is one problem in a configuration file. Its message names the
// file, the key and what is wrong:
//
//	havip.toml: instance[1] "db": vips[0]: "10.0.0.300" is not an IP address
//
// Syntax errors carry a line and a column instead of a key, and an
// excerpt of the file that points at the mistake:
//
//	havip.toml:7:12: expected value but found '\n' instead
type Error struct {
	// File is the configuration file, as given to Load or Parse.
	File string
	// Line is the 1-based line of a syntax error; 0 when unknown.
	Line int
	// Column is the 1-based column of a syntax error; 0 when unknown.
	Column int
	// Excerpt shows the lines around a syntax error with a caret under
	// it, several lines of text; empty for other problems. Error leaves
	// it out, so that one problem stays on one line.
	Excerpt string
	// Key is the path of the key, such as "cluster.peers[2]" or
	// `instance[0] "web": priority`; empty for problems of the whole file.
	Key string
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
			if e.Column > 0 {
				b.WriteString(":")
				b.WriteString(strconv.Itoa(e.Column))
			}
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(", column ")
			b.WriteString(strconv.Itoa(e.Column))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one configuration file, in the order
// they were found. Load and Parse return it whenever they fail, so
// errors.As finds both Errors and the first *Error.
type Errors []*Error

// Error prints one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is and errors.As look at each problem.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
