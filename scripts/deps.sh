#!/usr/bin/env bash
# Installs the host tools havip's tests and demo use (Debian/Ubuntu), only
# when they are missing. Sourced by test.sh and demo.sh.
set -euo pipefail

havip_need=()
command -v ip >/dev/null 2>&1 || havip_need+=(iproute2)
command -v ping >/dev/null 2>&1 || havip_need+=(iputils-ping)
command -v nft >/dev/null 2>&1 || havip_need+=(nftables)
if [ "${#havip_need[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing ${havip_need[*]}: run as root, or install them first" >&2
		exit 1
	fi
	echo "installing ${havip_need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${havip_need[@]}"
fi
if ! command -v go >/dev/null 2>&1; then
	echo "go is not on PATH (havip needs Go 1.26 or newer)" >&2
	exit 1
fi
