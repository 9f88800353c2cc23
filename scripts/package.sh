#!/usr/bin/env bash
# Builds the havip .deb and .rpm into dist/ (or -out DIR) with nfpm, from
# the packaging module (its dependencies stay out of havip's go.mod).
# Usage: ./scripts/package.sh [-version 1.2.3] [-arch arm64] [-out DIR]
set -euo pipefail
cd "$(dirname "$0")/../packaging"
exec go run . -out ../dist "$@"
