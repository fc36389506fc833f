#!/bin/bash
# Usage: .perf/count.sh [N]   (from the project root, ../shared beside it; needs valgrind)
# Instructions per request of each contender of .perf/count_test.go, counted
# by callgrind inside its request loop (the harness's recorder included, as
# in ../shared/perf's times), from the difference between runs of N and 2N
# requests (so set-up and warm-up cancel out; N at most 900), with the
# garbage collector off so that its cycles do not land in one run and not
# the other: what the counts leave out is the collector's work.
set -euo pipefail
n=${1:-200}
command -v valgrind >/dev/null || { echo "count.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
source "$(dirname "$0")/harness.sh" count_test.go
go test -tags rsguard -c -o count.test .
ir() { # contender, requests: instructions counted inside countLoop
  local log=$tmp/$1-$2.log
  if ! GOGC=off GODEBUG=asyncpreemptoff=1 COUNT=$1 COUNT_N=$2 valgrind --tool=callgrind \
    --callgrind-out-file=/dev/null --toggle-collect='perfanchors.countLoop' ./count.test -test.run '^TestCount$' -test.v >"$log" 2>&1; then
    echo "count.sh: $1 with $2 requests failed:" >&2; cat "$log" >&2; exit 1
  fi
  local n; n=$(awk '/Collected/ {print $4}' "$log")
  if [ -z "$n" ] || [ "$n" -eq 0 ]; then
    echo "count.sh: nothing counted for $1 (did countLoop get inlined or renamed?)" >&2; cat "$log" >&2; exit 1
  fi
  echo "$n"
}
# Run alone: on a busy machine the Go scheduler, preempting the loop's
# goroutine more often, lets other goroutines' instructions into the count.
# The floor is counted twice as a check.
f1=$(ir floor-RS256 "$n"); f2=$(ir floor-RS256 $((2 * n)))
f3=$(ir floor-RS256 "$n"); f4=$(ir floor-RS256 $((2 * n)))
if [ $(((f2 - f1) * 100 / (f4 - f3))) -lt 98 ] || [ $(((f2 - f1) * 100 / (f4 - f3))) -gt 102 ]; then
  echo "count.sh: the floor counted $(((f2 - f1) / n)) and $(((f4 - f3) / n)) instructions: not steady (a busy machine?); run it alone" >&2
  exit 1
fi
floor=
for c in floor-RS256 no-middleware first-RS256 cached-RS256 garbage alg-none hs-confusion distinct-expired distinct-wrong-aud; do
  a=$(ir "$c" "$n"); b=$(ir "$c" $((2 * n)))
  per=$(((b - a) / n))
  [ -z "$floor" ] && floor=$per
  awk -v c="$c" -v p="$per" -v f="$floor" 'BEGIN {
    r = p / f; printf "%-20s %9d instructions  %s\n", c, p, (r >= 0.5 ? sprintf("%.3fx floor", r) : sprintf("1/%.1f of floor", 1 / r)) }'
done
