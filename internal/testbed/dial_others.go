//go:build !linux

package testbed

import (
	"context"
	"errors"
	"net"
)

// DialIn needs Linux network namespaces.
func DialIn(context.Context, string, string, string) (net.Conn, error) {
	return nil, errors.New("testbed: network namespaces need Linux")
}
