package keepalived

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultPath is where keepalived reads its configuration.
const DefaultPath = "/etc/keepalived/keepalived.conf"

// ParseOptions change how a configuration is read.
type ParseOptions struct {
	// ConfigID is what @ lines are compared with, as keepalived's -i
	// option; empty means keepalived's default, the host name up to its
	// first dot.
	ConfigID string
	// Root is prefixed to every file read, the configuration and its
	// includes ("" or "/": the files of this host). Positions in the
	// report name the paths without it.
	Root string
}

// Config is a keepalived configuration as keepalived reads it.
type Config struct {
	// Nodes are the keywords of the top level, in order.
	Nodes []*Node
	// Files are the files read: the configuration, then its includes.
	Files []string
	// Report lists the lines that could not be read as keepalived reads
	// them.
	Report Report
}

// Limits that keep a broken configuration from running away.
const (
	maxIncludeDepth = 32
	maxExpansions   = 10000 // substitutions in one line
)

// ParseFile reads the configuration at path and the files it includes.
// It fails only when path itself cannot be read; every other problem is
// in the returned Config's Report.
func ParseFile(path string, o ParseOptions) (*Config, error) {
	r := newReader(o)
	data, err := os.ReadFile(r.hostPath(path))
	if err != nil {
		return nil, fmt.Errorf("reading the keepalived configuration: %w", err)
	}
	r.readData(path, data)
	return r.config(), nil
}

// Parse reads a configuration from data; path names it in the report,
// and relative include patterns are relative to its directory.
func Parse(data []byte, path string, o ParseOptions) *Config {
	r := newReader(o)
	r.readData(path, data)
	return r.config()
}

// definition is a $NAME=VALUE parameter. A multiline value has its lines
// separated by "\n".
type definition struct {
	value     string
	multiline bool
}

// line is one logical line: comments, conditions and parameters handled,
// and every '{' and '}' on a line of its own.
type line struct {
	pos  Pos
	text string
}

// reader follows keepalived's read_line: it turns the files into logical
// lines.
type reader struct {
	o     ParseOptions
	id    string
	defs  map[string]*definition
	lines []line
	files []string
	rep   Report
	depth int
	// file is the file being read; pending a multiline definition whose
	// lines are being read.
	file    string
	pending *definition
}

func newReader(o ParseOptions) *reader {
	id := o.ConfigID
	if id == "" {
		if h, err := os.Hostname(); err == nil {
			id, _, _ = strings.Cut(h, ".")
		}
	}
	return &reader{o: o, id: id, defs: map[string]*definition{}}
}

func (r *reader) config() *Config {
	return &Config{Nodes: r.tree(), Files: r.files, Report: r.rep}
}

// hostPath is where path is read on this machine.
func (r *reader) hostPath(path string) string {
	if r.o.Root == "" || r.o.Root == "/" {
		return path
	}
	return filepath.Join(r.o.Root, path)
}

// problem reports a line that cannot be read as keepalived reads it.
func (r *reader) problem(pos Pos, kind Kind, format string, args ...any) {
	r.rep.add(&Node{Pos: pos, seq: len(r.lines)}, kind, "", format, args...)
}

// readData reads one file's lines.
func (r *reader) readData(path string, data []byte) {
	r.files = append(r.files, path)
	prevFile, prevPending := r.file, r.pending
	r.file, r.pending = path, nil
	defer func() { r.file, r.pending = prevFile, prevPending }()

	for i, raw := range strings.Split(string(data), "\n") {
		pos := Pos{File: path, Line: i + 1}
		raw = strings.TrimRight(raw, "\r")
		if raw == "" {
			// An empty line ends a multiline definition.
			r.endDefinition()
			continue
		}
		text, unterminated := decomment(raw)
		if unterminated {
			r.problem(pos, Problem, "unterminated quote: %s", strings.TrimSpace(raw))
		}
		if r.pending != nil {
			r.continueDefinition(text)
			continue
		}
		if text != "" {
			r.process(text, pos)
		}
	}
	r.endDefinition()
}

// decomment removes leading white space and the comment (from a '#' or
// '!' outside double quotes to the end of the line), unescapes "\#" and
// "\!", and removes trailing white space, keeping a final '\' that
// continues the line. It also says whether a double quote is left open.
func decomment(raw string) (text string, unterminated bool) {
	s := strings.TrimLeft(raw, " \t")
	var b strings.Builder
	quote, comment, cont := false, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			if !comment {
				quote = !quote
			}
		case c == '\\' && i+1 == len(s):
			cont = true
			continue
		case c == '\\':
			i++
			if !comment {
				if quote || (s[i] != '#' && s[i] != '!') {
					b.WriteByte(c)
				}
				b.WriteByte(s[i])
			}
			continue
		case !quote && (c == '#' || c == '!'):
			comment = true
		}
		if !comment {
			b.WriteByte(c)
		}
	}
	text = strings.TrimRight(b.String(), " \t")
	if cont {
		text += `\`
	}
	return text, quote
}

// continueDefinition adds a line to the multiline definition being read:
// it goes on while lines end with '\'.
func (r *reader) continueDefinition(text string) {
	d := r.pending
	more := strings.HasSuffix(text, `\`)
	if more {
		text = strings.TrimRight(strings.TrimSuffix(text, `\`), " \t")
		if text != "" {
			text += "\n"
		}
	}
	d.value += text
	if !more {
		r.endDefinition()
	}
}

func (r *reader) endDefinition() {
	if r.pending != nil && r.pending.value == "" {
		r.pending.multiline = false
	}
	r.pending = nil
}

// process handles one line: its condition, a definition, parameters
// (again while they produce more), an include, and the braces.
func (r *reader) process(text string, pos Pos) {
	var more []string // further lines of multiline parameters
	for {
		if strings.HasPrefix(text, "@") {
			var ok bool
			if text, ok = r.condition(text); !ok {
				return
			}
		}
		if strings.HasPrefix(text, "$") && r.define(text) {
			return
		}
		if strings.HasPrefix(text, "~") {
			block, _, _ := strings.Cut(strings.Fields(text)[0], "(")
			r.problem(pos, Dropped, "%s: ~SEQ and ~LST blocks are not expanded; write their lines out", block)
			return
		}
		next, lines, changed := r.substitute(text, pos)
		if !changed {
			break
		}
		text, more = next, append(lines, more...)
		if !strings.HasPrefix(text, "@") && !strings.Contains(text, "$") {
			break
		}
	}
	if text != "" && r.unresolved(text, pos) {
		r.emit(text, pos)
	}
	for _, l := range more {
		if l != "" {
			r.process(l, pos)
		}
	}
}

// condition handles "@id rest" and "@^id rest": the rest of the line
// stays when id is (or, with ^, is not) the config-id.
func (r *reader) condition(text string) (string, bool) {
	ofs, negate := 1, strings.HasPrefix(text, "@^")
	if negate {
		ofs = 2
	}
	end := strings.IndexAny(text[ofs:], " \t")
	if end < 0 {
		return "", false
	}
	match := r.id != "" && text[ofs:ofs+end] == r.id
	if match == negate {
		return "", false
	}
	return strings.TrimLeft(text[ofs+end:], " \t"), true
}

// define stores "$NAME=VALUE" and says whether text was a definition.
// A value ending in '\' starts a multiline definition.
func (r *reader) define(text string) bool {
	name, value, ok := strings.Cut(text[1:], "=")
	if !ok || !isName(name) {
		return false
	}
	value = strings.TrimLeft(value, " \t")
	d := &definition{value: value}
	if strings.HasSuffix(value, `\`) {
		d.multiline = true
		d.value = strings.TrimRight(strings.TrimSuffix(value, `\`), " \t")
		if d.value != "" {
			d.value += "\n"
		}
		r.pending = d
	}
	r.defs[name] = d
	return true
}

// isName says whether s is a parameter name: letters, digits and '_',
// not starting with a digit.
func isName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// substitute replaces $NAME (followed by white space or the end) and
// ${NAME} of defined parameters, scanning each replacement again, as
// keepalived does. A multiline parameter is replaced only at the end of
// a line: its first line takes its place and its other lines are
// returned to be read next. Undefined parameters stay as they are.
func (r *reader) substitute(text string, pos Pos) (string, []string, bool) {
	var more []string
	orig, changed, count := text, false, 0
	for i := 0; i < len(text); {
		j := strings.IndexByte(text[i:], '$')
		if j < 0 {
			break
		}
		j += i
		name, end := reference(text, j)
		d := r.lookup(name)
		if d == nil || (d.multiline && end != len(text)) {
			i = j + 1
			continue
		}
		if count++; count > maxExpansions {
			r.problem(pos, Problem, "more than %d parameter substitutions: a definition refers to itself", maxExpansions)
			return orig, nil, false
		}
		value := d.value
		if d.multiline {
			lines := strings.Split(value, "\n")
			value, more = lines[0], append(lines[1:], more...)
		}
		text = text[:j] + value + text[end:]
		changed = true
		i = j
	}
	return text, more, changed
}

// reference returns the parameter name of "$NAME" or "${NAME}" at
// text[j] and the index after it; "" when there is none. As in
// keepalived's find_definition, $NAME ends at white space, ',', ')' or
// the end of the line, and ${NAME} at '}'; only ${_RANDOM MIN MAX}
// takes numbers before the '}'.
func reference(text string, j int) (string, int) {
	braces := strings.HasPrefix(text[j+1:], "{")
	start := j + 1
	if braces {
		start++
	}
	end := start
	for end < len(text) && isName(text[start:end+1]) {
		end++
	}
	name := text[start:end]
	switch {
	case name == "":
		return "", 0
	case !braces:
		if end < len(text) && strings.IndexByte(" \t,)", text[end]) < 0 {
			return "", 0
		}
		return name, end
	}
	p, digits := end, false
	for p < len(text) && (text[p] == ' ' || text[p] >= '0' && text[p] <= '9') {
		digits = digits || text[p] != ' '
		p++
	}
	switch {
	case p >= len(text) || text[p] != '}':
		return "", 0
	case digits && (name != "_RANDOM" || text[p-1] == ' '):
		return "", 0
	}
	return name, p + 1
}

// unresolved reports the parameters left in a line once it is read:
// ${_RANDOM}, which havip cannot carry over (the line is left out when
// it opens or closes no block), a multiline parameter in the middle of
// a line, and undefined parameters, but in the command lines of scripts
// and notify hooks, where the shell may expand them. It says whether
// the line is kept.
func (r *reader) unresolved(text string, pos Pos) bool {
	words := strings.Fields(text)
	if len(words) == 0 {
		return true
	}
	command := words[0] == "script" || words[0] == "misc_path" || strings.HasPrefix(words[0], "notify")
	keep := true
	for j := strings.IndexByte(text, '$'); j >= 0 && j < len(text); {
		name, end := reference(text, j)
		if name == "" {
			end = j + 1
		}
		ref := text[j:end]
		switch d := r.lookup(name); {
		case name == "":
		case name == "_RANDOM" && d == nil:
			keep = braceIndex(text) >= 0
			what := "the line is left out"
			if keep {
				what = "it is left as written"
			}
			r.problem(pos, Problem, "%s: keepalived writes a random number there each time it reads the configuration, which a havip configuration cannot do: write the value instead (%s)", ref, what)
		case d != nil && d.multiline:
			r.problem(pos, Problem, "%s is a multiline parameter, which keepalived replaces only at the end of a line: it is left as written", ref)
		case d == nil && !command:
			r.problem(pos, Problem, "%s is not defined: keepalived leaves it as written; define it ($%s=VALUE) or write the value", ref, name)
		}
		k := strings.IndexByte(text[end:], '$')
		if k < 0 {
			break
		}
		j = end + k
	}
	return keep
}

// undefinedRef returns the first parameter reference ($NAME or ${NAME})
// left in s, as written: what is left of one once the configuration is
// read is a parameter that was not defined. "" when there is none.
func undefinedRef(s string) string {
	for j := strings.IndexByte(s, '$'); j >= 0; {
		if name, end := reference(s, j); name != "" {
			return s[j:end]
		}
		k := strings.IndexByte(s[j+1:], '$')
		if k < 0 {
			break
		}
		j += 1 + k
	}
	return ""
}

// lookup returns the definition of name, with keepalived's predefined
// ones.
func (r *reader) lookup(name string) *definition {
	if d, ok := r.defs[name]; ok {
		return d
	}
	switch name {
	case "_PWD":
		return &definition{value: filepath.Dir(r.file)}
	case "_INSTANCE":
		return &definition{value: r.id}
	case "_HASH":
		return &definition{value: "#"}
	case "_BANG":
		return &definition{value: "!"}
	}
	return nil
}

// includeKeywords are "include" and its variants, which differ only in
// how strictly keepalived reports files it cannot read.
var includeKeywords = map[string]bool{"include": true, "includer": true, "includem": true, "includew": true, "includeb": true, "includea": true}

// emit handles an include, then splits the line at its first brace
// outside double quotes, so that each '{' and '}' is a line of its own;
// the rest of the line is read again.
func (r *reader) emit(text string, pos Pos) {
	if w, _ := splitWords(text); len(w) == 2 && includeKeywords[w[0]] {
		r.include(w[1], pos)
		return
	}
	p := braceIndex(text)
	switch {
	case p < 0:
		r.lines = append(r.lines, line{pos, text})
	case p == 0:
		r.lines = append(r.lines, line{pos, text[:1]})
		if rest := strings.TrimSpace(text[1:]); rest != "" {
			r.process(rest, pos)
		}
	default:
		r.lines = append(r.lines, line{pos, strings.TrimRight(text[:p], " \t")})
		r.process(text[p:], pos)
	}
}

// braceIndex returns the index of the first '{' or '}' outside double
// quotes, -1 when there is none. The braces of a ${NAME} left in the
// line (a parameter that is not defined, reported) are not counted:
// keepalived would read them as a block, which only hides what is wrong
// behind lines that make no sense.
func braceIndex(s string) int {
	quote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quote = !quote
		case !quote && c == '$':
			if name, end := reference(s, i); name != "" {
				i = end - 1
			}
		case !quote && (c == '{' || c == '}'):
			return i
		}
	}
	return -1
}

// include reads the files matching pattern (a glob with csh-style brace
// alternatives), relative to the directory of the file being read, as
// glibc's glob with GLOB_BRACE lists them: the matches of each
// alternative sorted, the alternatives in the order written. Like
// keepalived, it reads only regular files that are not executable.
func (r *reader) include(pattern string, pos Pos) {
	if r.depth >= maxIncludeDepth {
		r.problem(pos, Problem, "include %s: more than %d nested includes", pattern, maxIncludeDepth)
		return
	}
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(r.file), pattern)
	}
	var files []string
	for _, p := range expandBraces(pattern) {
		matches, err := filepath.Glob(r.hostPath(p))
		if err != nil {
			r.problem(pos, Problem, "include %s: %v", pattern, err)
			return
		}
		sort.Strings(matches)
		files = append(files, matches...)
	}
	read, skipped := 0, 0
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		if st.Mode().Perm()&0o111 != 0 {
			r.problem(pos, Note, "include %s: %s is executable: skipped, as keepalived reads only regular files that are not executable", pattern, r.displayPath(f))
			skipped++
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			r.problem(pos, Problem, "include %s: %v", pattern, err)
			continue
		}
		read++
		r.depth++
		r.readData(r.displayPath(f), data)
		r.depth--
	}
	if read == 0 && skipped == 0 {
		r.problem(pos, Note, "include %s matched no file", pattern)
	}
}

// displayPath is a host path read under Root, as the host names it.
func (r *reader) displayPath(p string) string {
	if r.o.Root == "" || r.o.Root == "/" {
		return p
	}
	rel, err := filepath.Rel(r.o.Root, p)
	if err != nil {
		return p
	}
	return "/" + rel
}

// expandBraces expands csh-style alternatives: "a{b,c}d" is "abd" and
// "acd". A brace group without a comma is kept as it is.
func expandBraces(s string) []string {
	open := strings.IndexByte(s, '{')
	if open < 0 {
		return []string{s}
	}
	depth, parts, start := 0, []string(nil), open+1
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case ',':
			if depth == 1 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		case '}':
			if depth--; depth > 0 {
				continue
			}
			if parts == nil {
				// No alternatives: a literal group; expand what follows.
				var out []string
				for _, rest := range expandBraces(s[i+1:]) {
					out = append(out, s[:i+1]+rest)
				}
				return out
			}
			parts = append(parts, s[start:i])
			var out []string
			for _, p := range parts {
				out = append(out, expandBraces(s[:open]+p+s[i+1:])...)
			}
			return out
		}
	}
	return []string{s}
}
