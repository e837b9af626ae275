#!/usr/bin/env bash
# Sourced by the scripts that run a pinned npm package (the MCP SDK client, the OpenAPI linter):
#   npm_tool PACKAGE VERSION MARKER     installs PACKAGE@VERSION under .pantheon/tools on first use (node and npm from
#                                       Debian's packages when missing) and prints the install's directory; MARKER is a
#                                       path inside it that exists once the install is complete.
# A fresh clone needs nothing by hand; test runs of several worktrees may share .pantheon, so one install runs at a time.
_npm_tool_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

npm_tool() {
    local package="$1" version="$2" marker="$3"
    local name="${package#@}" lock
    local dir="${PANTHEON_TOOLS_DIR:-$_npm_tool_root/.pantheon/tools}/${name//\//-}-$version"
    command -v npm >/dev/null 2>&1 || {
        echo "[npm-tool] installing nodejs and npm" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    }
    if [ ! -e "$dir/$marker" ]; then
        mkdir -p "$dir"
        exec {lock}>"$dir.lock"
        flock "$lock"
        if [ ! -e "$dir/$marker" ]; then
            echo "[npm-tool] installing $package@$version into $dir" >&2
            npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$package@$version" >&2
        fi
        flock -u "$lock"
    fi
    printf '%s\n' "$dir"
}
