#!/bin/bash
# Usage: .perf/bounds.sh [ROUNDS]   (from the project root, ../shared beside it)
# What ../shared/perf's harness costs by itself on the paths issue 17 sets
# targets for (no middleware: the same token, distinct tokens, the Guard's
# 401 written by a bare handler), beside the floor and rsguard, in
# interleaved rounds: see .perf/bounds_test.go.
set -euo pipefail
rounds=${1:-5}
source "$(dirname "$0")/harness.sh" bounds_test.go
ROUNDS=$rounds go test -tags rsguard -run '^TestHarnessBounds$' -count=1 -timeout 30m -v . 2>&1 | grep -v '^=== RUN\|^--- PASS\|^PASS\|^ok '
