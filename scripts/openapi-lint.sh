#!/usr/bin/env bash
# Lints an OpenAPI document with Redocly's `recommended` ruleset; exits non-zero on any error.
#   scripts/openapi-lint.sh path/to/openapi.json
# The pinned CLI is installed from npm under .pantheon/tools on first use, so a fresh clone needs nothing by hand.
set -euo pipefail
# shellcheck source=scripts/npm-tool.sh
source "$(dirname "${BASH_SOURCE[0]}")/npm-tool.sh"

[ $# -eq 1 ] || { echo "usage: $0 openapi.json" >&2; exit 2; }
CLI="$(npm_tool @redocly/cli 2.77.0 node_modules/.bin/redocly)/node_modules/.bin/redocly"
# No telemetry or update check: the only traffic of a test run stays on this machine.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
exec "$CLI" lint --extends=recommended --format=stylish "$1"
