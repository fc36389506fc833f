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
# A try counts N and 2N requests and takes the difference; each contender
# gets three tries and reports their median, with the three (on a quiet
# machine within a few percent). Run it alone: on a busy machine the Go
# scheduler, preempting the loop's goroutine more often, lets other
# goroutines' instructions into a try (a spread over 10% is flagged).
try() { local a b; a=$(ir "$1" "$n"); b=$(ir "$1" $((2 * n))); echo $(((b - a) / n)); }
floor=
for c in floor-RS256 no-middleware first-RS256 cached-RS256 garbage alg-none hs-confusion distinct-expired distinct-wrong-aud; do
  xs=$(for _ in 1 2 3; do try "$c"; done | sort -n | tr '\n' ' ')
  read -r lo per hi <<<"$xs"
  [ -z "$floor" ] && floor=$per
  awk -v c="$c" -v p="$per" -v f="$floor" -v lo="$lo" -v hi="$hi" 'BEGIN {
    r = p / f
    printf "%-20s %9d instructions  %-16s (tries %d %d %d)%s\n", c, p,
      (r >= 0.5 ? sprintf("%.3fx floor", r) : sprintf("1/%.1f of floor", 1 / r)), lo, p, hi,
      ((hi - lo) > p / 10 ? "  spread over 10%: a busy machine?" : "") }'
done
