#!/bin/sh
# The .rpm's scriptlet; the .deb has maintainer scripts of its own in ../deb.
# Before removal (dpkg: "remove"; rpm: 0 packages left, not an upgrade):
# stop havip, which hands its VIPs over to the other members.
set -e
case "$1" in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now havip.service >/dev/null 2>&1 || :
	fi
	;;
esac
