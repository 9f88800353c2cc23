package main

import (
	"errors"
	"log/slog"

	"github.com/havip/havip/config"
	"github.com/havip/havip/preflight"
)

// hostGuard returns what `havip run` refuses, at start and on each
// reload: a configuration whose VIPs collide with this host's gateways,
// subnets or addresses, or instances without the capabilities to hold
// them (preflight.Refuse). A host whose state cannot be read is no
// reason to refuse; it is logged.
func hostGuard(logger *slog.Logger) func(*config.Config) error {
	return func(cfg *config.Config) error {
		err := preflight.Refuse(cfg, preflight.Options{Host: hostView, Capabilities: hostCaps})
		var errs config.Errors
		if err != nil && !errors.As(err, &errs) {
			logger.Warn("cannot check the VIPs and capabilities against this host", "err", err)
			return nil
		}
		return err
	}
}
