#!/usr/bin/env bash
# Installs the interop test dependencies (oidc-provider, @modelcontextprotocol/sdk, oauth4webapi, jose, zod) exactly as
# pinned in package-lock.json. Idempotent and quiet: runs `npm ci` only when node_modules is
# missing or the lockfile changed since the last successful install. Used by CI and Go tests.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "interop/install.sh: node and npm are required" >&2
  exit 1
fi

stamp=node_modules/.rsguard-lock.sha256
want="$( (node --version; sha256sum package-lock.json) | sha256sum | cut -d' ' -f1)"
fresh() { [[ -d node_modules && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; }
if fresh; then
  exit 0
fi
# Test packages that run at the same time (go test ./... runs examples/interop and
# examples/mcpcheck in parallel) may both call this script: one npm ci at a time, and none
# after another one brought node_modules up to date. Without flock (not Linux), CI runs this
# script once before the tests.
if command -v flock >/dev/null 2>&1; then
  mkdir -p .cache
  exec 9>.cache/install.lock
  flock -w 600 9
  if fresh; then
    exit 0
  fi
fi

npm ci --no-audit --no-fund --loglevel=error >/dev/null
echo "$want" > "$stamp"
