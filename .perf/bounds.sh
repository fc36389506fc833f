#!/bin/bash
# Usage: .perf/bounds.sh [ROUNDS]   (from the project root, ../shared beside it)
# What ../shared/perf's harness costs by itself on the paths issue 17 sets
# targets for (no middleware: the same token, distinct tokens, the Guard's
# 401 written by a bare handler), beside the floor and rsguard, in
# interleaved rounds: see .perf/bounds_test.go.
set -euo pipefail
proj=$(cd "$(dirname "$0")/.." && pwd); rounds=${1:-5}
shared=$proj/../shared/perf
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp "$shared"/*.go "$shared"/go.mod "$shared"/go.sum "$tmp"/
cp "$proj/.perf/rsguard_wiring_test.go" "$proj/.perf/bounds_test.go" "$tmp"/
cd "$tmp"
go mod edit -require=github.com/rsguard/rsguard@v0.0.0 -replace=github.com/rsguard/rsguard="$proj"
go mod tidy >/dev/null 2>&1 || go mod tidy
ROUNDS=$rounds go test -tags rsguard -run '^TestHarnessBounds$' -count=1 -timeout 30m -v . 2>&1 | grep -v '^=== RUN\|^--- PASS\|^PASS\|^ok '
