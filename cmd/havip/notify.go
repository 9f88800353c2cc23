package main

import (
	"context"
	"log/slog"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
)

// notifier tells systemd about the daemon's state (Type=notify units).
// Without NOTIFY_SOCKET in the environment every call does nothing.
type notifier struct {
	log *slog.Logger
}

// send sends one or more newline-separated assignments such as "READY=1".
func (n notifier) send(state string) {
	if _, err := sddaemon.SdNotify(false, state); err != nil {
		n.log.Warn("notifying systemd", "state", state, "err", err)
	}
}

// watchdog pings systemd at half of WATCHDOG_USEC until ctx is done, when
// the unit sets WatchdogSec= (and WATCHDOG_PID, if set, is this process).
func (n notifier) watchdog(ctx context.Context) {
	every, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil {
		n.log.Warn("reading the systemd watchdog settings", "err", err)
		return
	}
	if every <= 0 {
		return
	}
	every /= 2
	n.log.Debug("pinging the systemd watchdog", "every", every)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.send("WATCHDOG=1")
		}
	}
}
