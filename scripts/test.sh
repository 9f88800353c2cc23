#!/usr/bin/env bash
# Runs every check and test of havip. As root the privileged tests build
# their own network namespaces and run; as another user they skip, saying
# why. Usage: sudo ./scripts/test.sh [go test flags]
set -euo pipefail
cd "$(dirname "$0")/.."
# The demo's tools, and as root what the tests check with (deps.sh).
HAVIP_DEPS=test
. scripts/deps.sh

unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
# The failpoints the integration tests build into havip (internal/failpoint).
go vet -tags havip_failpoints ./internal/failpoint ./vip
GOOS=darwin go vet ./... >/dev/null
# Windows Server: cross-compiled and vetted here; its logic runs in the
# tests below against fakes of the system calls (docs/windows.md).
GOOS=windows GOARCH=amd64 go vet ./...
GOOS=windows GOARCH=amd64 go build -o /dev/null ./cmd/havip
# The Prometheus rules (docs/monitoring.md), checked and unit-tested on
# synthetic series by promtool, which deps.sh installs as root.
if command -v promtool >/dev/null 2>&1; then
	promtool check rules examples/prometheus/havip-rules.yml
	promtool test rules examples/prometheus/havip-rules.test.yml
else
	echo "skipping promtool check rules and test rules: promtool is missing (deps.sh installs it as root)" >&2
fi
# -p 1: the integration tests and the namespace tests each start several
# daemons; running packages one at a time keeps a 2-core machine honest.
go test -count=1 -p 1 -timeout 20m "$@" ./...
go test -count=1 -tags havip_failpoints "$@" ./internal/failpoint
# The election and the host side again under the race detector: their
# goroutines (the election loop, the publisher, the transport's readers,
# memberlist's delegates; the daemon's tasks, the address watchers, the
# announcers) share state. Every other package passes under it too, but
# takes longer than it adds.
go test -count=1 -race "$@" ./election/... ./daemon ./vip ./announce
# A short seeded chaos schedule (docs/chaos.md): three nodes, the fast
# profile, a minute of overlapping faults judged from outside. The report
# is printed when an invariant was violated.
if [ "$(id -u)" -eq 0 ]; then
	chaos_report=$(mktemp)
	if ! go run ./integration/cmd/chaos -nodes 3 -profile fast -duration 60s -seed "${CHAOS_SEED:-1}" -out "$chaos_report"; then
		cat "$chaos_report"
		rm -f "$chaos_report"
		exit 1
	fi
	rm -f "$chaos_report"
else
	echo "skipping the chaos run: it needs root (network namespaces)" >&2
fi
# Fuzz the decoders of what the network and the operator hand the daemon.
# Their seed corpora ran above as tests; here each target fuzzes for
# FUZZTIME, one per go test, which takes one target at a time. A failing
# input is written to the package's testdata/fuzz. The default is a count
# of inputs (about 3-6 s each here), not a duration: with a duration, Go's
# fuzz coordinator can fail a target with a bare "context deadline
# exceeded" when a busy machine's worker is still mid-input at the
# deadline, although nothing was found. A count has no deadline to race.
fuzztime=${FUZZTIME:-50000x}
for target in \
	./election/internal/wire:FuzzFrameOpen \
	./election:FuzzMetaDecode \
	./election:FuzzNamedMessage \
	./election:FuzzHeartbeat \
	./election:FuzzDelegate \
	./config:FuzzConfigParse; do
	go test -run='^$' -fuzz="^${target#*:}\$" -fuzztime="$fuzztime" "${target%%:*}"
done
