package daemon

import (
	"context"
	"errors"
	"log/slog"
	"strings"
)

// flatErrors is a slog.Handler that writes the errors memberlist
// collects (hashicorp/go-multierror: "1 error occurred:\n\t* …\n\n") as
// one line: the errors joined by "; ". Every other attribute passes as
// it is.
type flatErrors struct{ slog.Handler }

// multiError is what go-multierror's errors offer.
type multiError interface {
	error
	WrappedErrors() []error
}

func (h flatErrors) Handle(ctx context.Context, r slog.Record) error {
	multi := false
	r.Attrs(func(a slog.Attr) bool {
		multi = flatAttr(a).Value.Kind() != a.Value.Kind()
		return !multi
	})
	if !multi {
		return h.Handler.Handle(ctx, r)
	}
	flat := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		flat.AddAttrs(flatAttr(a))
		return true
	})
	return h.Handler.Handle(ctx, flat)
}

func (h flatErrors) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = flatAttr(a)
	}
	return flatErrors{h.Handler.WithAttrs(out)}
}

func (h flatErrors) WithGroup(name string) slog.Handler {
	return flatErrors{h.Handler.WithGroup(name)}
}

// flatAttr flattens an error attribute that holds a multi-error.
func flatAttr(a slog.Attr) slog.Attr {
	if err, ok := a.Value.Any().(error); ok && a.Value.Kind() == slog.KindAny {
		var m multiError
		if errors.As(err, &m) {
			return slog.String(a.Key, flatText(err))
		}
	}
	return a
}

// flatText is err's text with every multi-error in it written on one
// line.
func flatText(err error) string {
	text := err.Error()
	var m multiError
	if !errors.As(err, &m) {
		return text
	}
	parts := make([]string, len(m.WrappedErrors()))
	for i, e := range m.WrappedErrors() {
		parts[i] = flatText(e)
	}
	return strings.Replace(text, m.Error(), strings.Join(parts, "; "), 1)
}
