#!/usr/bin/env bash
# Runs a three-node havip cluster in network namespaces on this machine,
# fails its master (link cut, SIGTERM, kill -9), shows the VIP move and
# cleans up. Needs root. Flags go to the demo: --timing fast, --secure=false.
set -euo pipefail
cd "$(dirname "$0")/.."
# The demo's tools only (deps.sh): iproute2, iputils-ping, nftables.
HAVIP_DEPS=demo
. scripts/deps.sh
exec go run ./examples/demo "$@"
