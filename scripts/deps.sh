#!/usr/bin/env bash
# Installs the host tools havip's demo and tests use (Debian/Ubuntu), only
# when they are missing. Sourced by demo.sh and test.sh.
#
# Every caller gets what the demo needs: iproute2, iputils-ping, nftables.
# test.sh sets HAVIP_DEPS=test before sourcing it, which adds, as root,
# what the tests check with (listed below with the reason for each); the
# demo does not need them. HAVIP_DEPS_DRY_RUN=1 prints each package
# checked for, "present" or "missing", and installs nothing.
set -euo pipefail

havip_need=()
havip_checked=()
# havip_want PACKAGE COMMAND|/PATH: PACKAGE is needed when COMMAND is not
# on PATH (or the file or directory PATH does not exist).
havip_want() {
	havip_checked+=("$1")
	case $2 in
	/*) [ -e "$2" ] ;;
	*) command -v "$2" >/dev/null 2>&1 ;;
	esac || havip_need+=("$1")
}
havip_want iproute2 ip
havip_want iputils-ping ping
havip_want nftables nft
if [ "${HAVIP_DEPS:-demo}" = test ] && [ "$(id -u)" -eq 0 ]; then
	# keepalived's own sample configurations, which the converter's tests
	# read (they skip without them; the daemon is never started: see
	# policy-rc.d).
	havip_want keepalived /usr/share/doc/keepalived/samples
	# promtool, which checks and unit-tests the alerting rules in
	# examples/prometheus (Debian ships it in prometheus, whose server is
	# never started: see policy-rc.d, and update-rc.d below).
	havip_want prometheus promtool
	# The packaging test checks the .deb and .rpm as distributions do
	# (lintian, rpmlint, which needs rpm and cpio to unpack) and installs
	# the .deb in a throwaway Debian root that debootstrap makes.
	for havip_tool in lintian rpmlint rpm cpio debootstrap; do
		havip_want "$havip_tool" "$havip_tool"
	done
fi
if [ -n "${HAVIP_DEPS_DRY_RUN:-}" ]; then
	for havip_pkg in "${havip_checked[@]}"; do
		case " ${havip_need[*]} " in
		*" $havip_pkg "*) echo "$havip_pkg missing" ;;
		*) echo "$havip_pkg present" ;;
		esac
	done
	havip_need=()
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
