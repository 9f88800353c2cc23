//go:build !linux && !windows

package announce

import (
	"errors"
	"log/slog"
	"net"
)

// Open fails: only supported on linux. New works everywhere.
func Open(ifi *net.Interface, logger *slog.Logger) (*Announcer, error) {
	return nil, errors.New("announce: only supported on linux")
}
