package election

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"strings"
)

// memberlistLogger returns a *log.Logger whose lines, written by
// memberlist as "[LEVEL] memberlist: message", become slog records at the
// matching level with the component key set.
// onSuspect, if set, is called with the node name when memberlist reports
// that this node's probe of it failed and it is now suspected: memberlist
// has no event for suspicion, only this line.
func memberlistLogger(l *slog.Logger, onSuspect func(node string)) *log.Logger {
	return log.New(&slogWriter{l: l.With("component", "memberlist"), onSuspect: onSuspect}, "", 0)
}

type slogWriter struct {
	l         *slog.Logger
	onSuspect func(string)
}

func (w *slogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		w.line(string(line))
	}
	return len(p), nil
}

func (w *slogWriter) line(s string) {
	level := slog.LevelInfo
	if strings.HasPrefix(s, "[") {
		if i := strings.Index(s, "]"); i > 0 {
			switch s[1:i] {
			case "DEBUG", "TRACE":
				level = slog.LevelDebug
			case "WARN":
				level = slog.LevelWarn
			case "ERR", "ERROR":
				level = slog.LevelError
			}
			s = strings.TrimSpace(s[i+1:])
		}
	}
	s = strings.TrimPrefix(s, "memberlist: ")
	if w.onSuspect != nil {
		if rest, ok := strings.CutPrefix(s, "Suspect "); ok {
			if name, ok := strings.CutSuffix(rest, " has failed, no acks received"); ok {
				w.onSuspect(name)
			}
		}
	}
	w.l.Log(context.Background(), level, s)
}

var _ io.Writer = (*slogWriter)(nil)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
