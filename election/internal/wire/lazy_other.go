//go:build !linux

package wire

import (
	"errors"
	"net"
	"syscall"
)

// lazySocket needs Linux's reuseport BPF steering; elsewhere every frame
// reaches the main socket and is read at once.
type lazySocket struct{}

var reusePort func(network, address string, c syscall.RawConn) error

func openLazy(*net.UDPConn) (*lazySocket, error) {
	return nil, errors.New("lazy heartbeat socket needs Linux")
}

func (s *lazySocket) drain(FrameFunc) {}

func (s *lazySocket) close() error { return nil }
