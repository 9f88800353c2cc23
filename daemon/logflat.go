package daemon

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
)

// flatErrors is a slog.Handler that writes the errors memberlist
// collects (hashicorp/go-multierror: "1 error occurred:\n\t* …\n\n"),
// and errors.Join's, as one line: the errors joined by "; ". A text
// attribute holding such an error's text (the election keeps the
// rejoin errors as text) is written on one line too. Every other
// attribute passes as it is.
type flatErrors struct{ slog.Handler }

// multiError is what go-multierror's errors offer.
type multiError interface {
	error
	WrappedErrors() []error
}

func (h flatErrors) Handle(ctx context.Context, r slog.Record) error {
	multi := false
	r.Attrs(func(a slog.Attr) bool {
		_, multi = flatAttr(a)
		return !multi
	})
	if !multi {
		return h.Handler.Handle(ctx, r)
	}
	flat := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		a, _ = flatAttr(a)
		flat.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, flat)
}

func (h flatErrors) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i], _ = flatAttr(a)
	}
	return flatErrors{h.Handler.WithAttrs(out)}
}

func (h flatErrors) WithGroup(name string) slog.Handler {
	return flatErrors{h.Handler.WithGroup(name)}
}

// flatAttr flattens an error attribute whose text spans lines because
// it holds multi-errors, and a text attribute holding go-multierror's
// list; it reports whether it changed a.
func flatAttr(a slog.Attr) (slog.Attr, bool) {
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); strings.Contains(s, "\n") {
			if flat := flatList(s); flat != s {
				return slog.String(a.Key, flat), true
			}
		}
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok && err != nil {
			text := err.Error()
			if flat := flatText(err); flat != text {
				return slog.String(a.Key, flat), true
			}
		}
	}
	return a, false
}

// flatText is err's text with every multi-error in it — go-multierror's
// and errors.Join's, wherever they are in the chain — written on one
// line, its errors joined by "; ".
func flatText(err error) string {
	text := err.Error()
	if !strings.Contains(text, "\n") {
		return text
	}
	var kids []error
	list := false
	switch e := err.(type) {
	case multiError:
		kids, list = e.WrappedErrors(), true
	case interface{ Unwrap() []error }:
		kids = e.Unwrap()
	case interface{ Unwrap() error }:
		kids = []error{e.Unwrap()}
	}
	var (
		texts []string // the errors' own texts
		flats []string // and written on one line
	)
	for _, k := range kids {
		if k != nil {
			texts = append(texts, k.Error())
			flats = append(flats, flatText(k))
		}
	}
	switch {
	case len(flats) == 0:
		return text
	case list || len(flats) > 1 && text == strings.Join(texts, "\n"):
		// The whole text is the list (go-multierror) or the lines
		// (errors.Join) of the errors.
		return strings.Join(flats, "; ")
	}
	// A wrapper (fmt.Errorf with %w): each error's text in its place.
	for i, t := range texts {
		text = strings.Replace(text, t, flats[i], 1)
	}
	return text
}

// multiHeader is how go-multierror's list begins, with its first item.
var multiHeader = regexp.MustCompile(`\d+ errors? occurred:\n\t\* `)

// flatList writes go-multierror's list in the text s on one line, as
// flatText does with the error; text without one is returned as it is.
func flatList(s string) string {
	if !multiHeader.MatchString(s) {
		return s
	}
	s = multiHeader.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "\n\t* ", "; ")
	// Each list ends in a blank line, a nested one inside its item.
	s = strings.TrimRight(s, "\n")
	return strings.ReplaceAll(s, "\n\n", "")
}
