#!/usr/bin/env bash
# Installs the host tools havip's tests and demo use (Debian/Ubuntu), only
# when they are missing. Sourced by test.sh and demo.sh.
set -euo pipefail

havip_need=()
command -v ip >/dev/null 2>&1 || havip_need+=(iproute2)
command -v ping >/dev/null 2>&1 || havip_need+=(iputils-ping)
command -v nft >/dev/null 2>&1 || havip_need+=(nftables)
# keepalived's own sample configurations, which the converter's tests read
# (they skip without them; the daemon is never started: see policy-rc.d).
[ -d /usr/share/doc/keepalived/samples ] || [ "$(id -u)" -ne 0 ] || havip_need+=(keepalived)
# promtool, which checks and unit-tests the alerting rules in
# examples/prometheus (Debian ships it in prometheus, whose server is never
# started: see policy-rc.d).
command -v promtool >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ] || havip_need+=(prometheus)
# The packaging test checks the .deb and .rpm as distributions do (lintian,
# rpmlint, which needs rpm and cpio to unpack) and installs the .deb in a
# throwaway Debian root that debootstrap makes.
if [ "$(id -u)" -eq 0 ]; then
	for havip_tool in lintian rpmlint rpm cpio debootstrap; do
		command -v "$havip_tool" >/dev/null 2>&1 || havip_need+=("$havip_tool")
	done
fi
if [ "${#havip_need[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing ${havip_need[*]}: run as root, or install them first" >&2
		exit 1
	fi
	echo "installing ${havip_need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# policy-rc.d keeps the packages' services (keepalived's) from starting.
	havip_policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		havip_policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' >"$havip_policy"
		chmod 755 "$havip_policy"
	fi
	apt-get install -y -q --no-install-recommends "${havip_need[@]}"
	if [ -n "$havip_policy" ]; then rm -f "$havip_policy"; fi
	# Only promtool is wanted: the Prometheus server must not start at boot.
	case " ${havip_need[*]} " in *" prometheus "*) update-rc.d prometheus disable >/dev/null ;; esac
fi
if ! command -v go >/dev/null 2>&1; then
	echo "go is not on PATH (havip needs Go 1.26 or newer)" >&2
	exit 1
fi
