package keepalived

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is where a line of the configuration comes from.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.File == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Kind says how a directive fared in the conversion.
type Kind int

const (
	// Note explains how a directive was carried over or what to do next;
	// nothing was lost.
	Note Kind = iota
	// Changed: the directive was carried over, but havip behaves
	// differently.
	Changed
	// Dropped: the directive was not carried over.
	Dropped
	// Problem: the input is wrong or cannot be read as keepalived reads it.
	Problem
)

func (k Kind) String() string {
	switch k {
	case Note:
		return "note"
	case Changed:
		return "changed"
	case Dropped:
		return "not carried over"
	case Problem:
		return "problem"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Finding is one line of the conversion report.
type Finding struct {
	Pos  Pos
	Kind Kind
	// Where names the directive: "vrrp_instance VI_1: state".
	Where string
	Msg   string
	// seq orders findings as their lines appear in the configuration.
	seq int
}

func (f Finding) String() string {
	var b strings.Builder
	if s := f.Pos.String(); s != "" {
		b.WriteString(s + ": ")
	}
	if f.Where != "" {
		b.WriteString(f.Where + ": ")
	}
	b.WriteString(f.Kind.String() + ": " + f.Msg)
	return b.String()
}

// Report is every finding of a parse or a conversion.
type Report []Finding

// add appends a finding about node n (nil: about the whole file).
func (r *Report) add(n *Node, kind Kind, where, format string, args ...any) {
	f := Finding{Kind: kind, Where: where, Msg: fmt.Sprintf(format, args...), seq: 1 << 30}
	if n != nil {
		f.Pos, f.seq = n.Pos, n.seq
	}
	*r = append(*r, f)
}

// sorted returns the findings in the order of the configuration's lines,
// those about the whole file last.
func (r Report) sorted() Report {
	out := append(Report(nil), r...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// Count returns how many findings are of kind k.
func (r Report) Count(k Kind) int {
	n := 0
	for _, f := range r {
		if f.Kind == k {
			n++
		}
	}
	return n
}
