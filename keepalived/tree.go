package keepalived

import "strings"

// Node is one keyword line of the configuration and the block that
// follows it, if any.
type Node struct {
	Pos Pos
	// Words are the line split as keepalived splits it: at white space,
	// a word in double quotes being one word without them.
	Words []string
	// Line is the whole line, after its comment, condition and
	// parameters were handled (scripts are split from it again, with
	// single quotes and escapes, as keepalived does).
	Line string
	// Block is true when a { ... } followed the line; Children are the
	// lines inside it.
	Block    bool
	Children []*Node
	// seq is the line's place in the configuration, to order the report.
	seq int
}

// Keyword is the first word of the line.
func (n *Node) Keyword() string { return n.Words[0] }

// Arg returns word i (the keyword is word 0), "" when there is none.
func (n *Node) Arg(i int) string {
	if i < len(n.Words) {
		return n.Words[i]
	}
	return ""
}

// whiteSpace is what keepalived splits words at.
const whiteSpace = " \t\f\n\r\v"

// splitWords splits a line into words as keepalived's alloc_strvec does:
// at white space, with a word that starts with a double quote running to
// the next double quote (the quotes removed). It also says whether
// every quote was closed; an unclosed one ends the line.
func splitWords(s string) ([]string, bool) {
	var words []string
	for {
		s = strings.TrimLeft(s, whiteSpace)
		if s == "" {
			return words, true
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return words, false
			}
			words = append(words, s[1:1+end])
			s = s[2+end:]
			continue
		}
		end := strings.IndexAny(s, whiteSpace+`"`)
		if end < 0 {
			end = len(s)
		}
		words = append(words, s[:end])
		s = s[end:]
	}
}

// tree builds the keyword hierarchy from the logical lines: a line
// followed by "{" owns the lines up to the matching "}".
func (r *reader) tree() []*Node {
	var root []*Node
	var stack []*Node // open blocks
	children := func() *[]*Node {
		if len(stack) == 0 {
			return &root
		}
		return &stack[len(stack)-1].Children
	}
	for i, l := range r.lines {
		words, closed := splitWords(l.text)
		if !closed {
			r.rep.add(&Node{Pos: l.pos, seq: i}, Problem, "", "unmatched quote: %s", l.text)
		}
		if len(words) == 0 {
			continue
		}
		switch words[0] {
		case "{":
			list := *children()
			if len(list) == 0 || list[len(list)-1].Block {
				r.rep.add(&Node{Pos: l.pos, seq: i}, Problem, "", "unexpected '{' (no keyword before it): ignored")
				continue
			}
			owner := list[len(list)-1]
			owner.Block = true
			stack = append(stack, owner)
		case "}":
			if len(stack) == 0 {
				r.rep.add(&Node{Pos: l.pos, seq: i}, Problem, "", "extra '}': ignored")
				continue
			}
			stack = stack[:len(stack)-1]
		default:
			n := &Node{Pos: l.pos, Words: words, Line: l.text, seq: i}
			*children() = append(*children(), n)
		}
	}
	for _, open := range stack {
		r.rep.add(open, Problem, strings.Join(open.Words, " "), "the block opened here is never closed")
	}
	return root
}
