# Sourced by bounds.sh and count.sh: copies ../shared/perf with rsguard's
# wiring and the test file named in $1 into a temp dir (removed on exit),
# points it at this checkout, and changes to it. Sets proj and tmp.
proj=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=$proj/../shared/perf
[ -d "$shared" ] || { echo "$(basename "$0"): needs ../shared/perf beside the checkout" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp "$shared"/*.go "$shared"/go.mod "$shared"/go.sum "$tmp"/
cp "$proj/.perf/rsguard_wiring_test.go" "$proj/.perf/$1" "$tmp"/
cd "$tmp"
go mod edit -require=github.com/rsguard/rsguard@v0.0.0 -replace=github.com/rsguard/rsguard="$proj"
go mod tidy >/dev/null 2>&1 || go mod tidy
