#!/bin/sh
# The .rpm's scriptlet; the .deb has maintainer scripts of its own in ../deb.
# After install or upgrade: let systemd see the unit. havip is neither
# enabled nor started: /etc/havip.toml must be edited first (see
# /usr/share/doc/havip). An upgrade does not restart a running havip;
# restart members one at a time: systemctl restart havip
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
fi
