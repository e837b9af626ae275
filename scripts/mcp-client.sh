#!/usr/bin/env bash
# Runs a node script against the official MCP TypeScript SDK (npm @modelcontextprotocol/sdk, pinned), installed under
# .pantheon/tools on first use, so a fresh clone needs nothing by hand.
#   scripts/mcp-client.sh script.mjs [args...]     (the script finds the SDK at $MCP_SDK_DIR)
set -euo pipefail
# shellcheck source=scripts/npm-tool.sh
source "$(dirname "${BASH_SOURCE[0]}")/npm-tool.sh"

[ $# -ge 1 ] || { echo "usage: $0 script.mjs [args...]" >&2; exit 2; }
SDK="$(npm_tool @modelcontextprotocol/sdk 1.32.2 node_modules/@modelcontextprotocol/sdk/package.json)/node_modules/@modelcontextprotocol/sdk"
export MCP_SDK_DIR="$SDK" NO_UPDATE_NOTIFIER=1
exec node "$@"
