#!/usr/bin/env bash
# Lints an OpenAPI document with Redocly's `recommended` ruleset; exits non-zero on any error.
#   scripts/openapi-lint.sh path/to/openapi.json
# The pinned CLI is installed from npm under .pantheon/tools on first use, so a fresh clone needs nothing by hand.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="2.77.0"
TOOLS="${PANTHEON_TOOLS_DIR:-$ROOT/.pantheon/tools}/redocly-cli-$VERSION"
CLI="$TOOLS/node_modules/.bin/redocly"

[ $# -eq 1 ] || { echo "usage: $0 openapi.json" >&2; exit 2; }
command -v npm >/dev/null 2>&1 || {
    echo "[openapi-lint] installing nodejs and npm" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
}
if [ ! -x "$CLI" ]; then
    mkdir -p "$TOOLS"
    # One install at a time: test runs of several worktrees may share .pantheon.
    exec {lock}>"$TOOLS.lock"
    flock "$lock"
    if [ ! -x "$CLI" ]; then
        echo "[openapi-lint] installing @redocly/cli@$VERSION into $TOOLS" >&2
        npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "@redocly/cli@$VERSION" >&2
    fi
    flock -u "$lock"
fi
# No telemetry or update check: the only traffic of a test run stays on this machine.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
exec "$CLI" lint --extends=recommended --format=stylish "$1"
