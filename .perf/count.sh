#!/bin/bash
# Usage: .perf/count.sh [N]   (from the project root, ../shared beside it; needs valgrind)
# Instructions per request of each contender of .perf/count_test.go, counted
# by callgrind inside the Guard's middleware (inside the loop for the floor
# and the bare handler), from the difference between runs of N and 2N
# requests (so set-up and warm-up cancel out), with the garbage collector
# off so that its cycles do not land in one run and not the other.
set -euo pipefail
proj=$(cd "$(dirname "$0")/.." && pwd); n=${1:-200}
command -v valgrind >/dev/null || { echo "count.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
shared=$proj/../shared/perf
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp "$shared"/*.go "$shared"/go.mod "$shared"/go.sum "$tmp"/
cp "$proj/.perf/rsguard_wiring_test.go" "$proj/.perf/count_test.go" "$tmp"/
cd "$tmp"
go mod edit -require=github.com/rsguard/rsguard@v0.0.0 -replace=github.com/rsguard/rsguard="$proj"
go mod tidy >/dev/null 2>&1 || go mod tidy
go test -tags rsguard -c -o count.test .
ir() { # contender, requests: instructions counted
  local fn='*Guard).Middleware.func1'
  case $1 in floor-*|no-middleware) fn='perfanchors.countLoop' ;; esac
  GOGC=off GODEBUG=asyncpreemptoff=1 COUNT=$1 COUNT_N=$2 valgrind --tool=callgrind \
    --callgrind-out-file=/dev/null --toggle-collect="$fn" ./count.test -test.run '^TestCount$' 2>&1 |
    awk '/Collected/ {print $4}'
}
floor=
for c in floor-RS256 no-middleware first-RS256 cached-RS256 garbage alg-none hs-confusion distinct-expired distinct-wrong-aud; do
  a=$(ir "$c" "$n"); b=$(ir "$c" $((2 * n)))
  per=$(((b - a) / n))
  [ -z "$floor" ] && floor=$per
  awk -v c="$c" -v p="$per" -v f="$floor" 'BEGIN {
    r = p / f; printf "%-20s %9d instructions  %s\n", c, p, (r >= 0.5 ? sprintf("%.3fx floor", r) : sprintf("1/%.1f of floor", 1 / r)) }'
done
