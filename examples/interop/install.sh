#!/usr/bin/env bash
# Installs the interop test dependencies (oidc-provider, @modelcontextprotocol/sdk, oauth4webapi) exactly as
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
if [[ -d node_modules && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

npm ci --no-audit --no-fund --loglevel=error >/dev/null
echo "$want" > "$stamp"
