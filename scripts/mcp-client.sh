#!/usr/bin/env bash
# Runs a node script against the official MCP TypeScript SDK (npm @modelcontextprotocol/sdk, pinned), installed under
# .pantheon/tools on first use, so a fresh clone needs nothing by hand.
#   scripts/mcp-client.sh script.mjs [args...]     (the script finds the SDK at $MCP_SDK_DIR)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="1.32.2"
TOOLS="${PANTHEON_TOOLS_DIR:-$ROOT/.pantheon/tools}/mcp-sdk-$VERSION"
SDK="$TOOLS/node_modules/@modelcontextprotocol/sdk"

[ $# -ge 1 ] || { echo "usage: $0 script.mjs [args...]" >&2; exit 2; }
command -v npm >/dev/null 2>&1 || {
    echo "[mcp-client] installing nodejs and npm" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
}
if [ ! -f "$SDK/package.json" ]; then
    mkdir -p "$TOOLS"
    # One install at a time: test runs of several worktrees may share .pantheon.
    exec {lock}>"$TOOLS.lock"
    flock "$lock"
    if [ ! -f "$SDK/package.json" ]; then
        echo "[mcp-client] installing @modelcontextprotocol/sdk@$VERSION into $TOOLS" >&2
        npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "@modelcontextprotocol/sdk@$VERSION" >&2
    fi
    flock -u "$lock"
fi
export MCP_SDK_DIR="$SDK" NO_UPDATE_NOTIFIER=1
exec node "$@"
