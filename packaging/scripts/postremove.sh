#!/bin/sh
# The .rpm's scriptlet; the .deb has maintainer scripts of its own in ../deb.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
fi
