#!/usr/bin/env bash
# Run the Pantheon backend locally (foreground) on http://127.0.0.1:3002, and the tools API (MCP) beside it on :8090.
#   ./run.sh          ensure Postgres/Docker/images, build, apply schema,
#                     print a dev token, then run the web app
#   ./run.sh stop     stop the Postgres cluster and the dockerd started by scripts/prereqs.sh
# Re-running reuses the cluster, the daemon, the images and the build.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

# shellcheck source=scripts/prereqs.sh
source "$ROOT/scripts/prereqs.sh"

PROJECT=src/Pantheon.Web
CONFIG=Release
URL="${PANTHEON_WEB_URL:-http://127.0.0.1:3002}"   # override to run a second copy

if [ "${1:-}" = stop ]; then
    stop_all
    exit 0
fi

export ASPNETCORE_ENVIRONMENT=Development

# Everything after the first build uses --no-build. --no-launch-profile keeps
# Properties/launchSettings.json from overriding the environment set here.
web() {
    dotnet run --project "$PROJECT" -c "$CONFIG" --no-build --no-launch-profile -- "$@"
}

# Create/patch the Marten/Wolverine schema, the application role's rights and the row policies (JasperFx
# `resources setup`, as the owner role); the backend itself runs as the application role and changes no schema.
apply_schema() {
    echo "[run] applying schema (resources setup, as pantheon_owner)" >&2
    web resources setup
}

# Print a development JWT for alice; the token is the last JWT-shaped line.
dev_token() {
    local out tok
    out=$(web dev-token --user alice --email alice@example.com --name Alice)
    tok=$(printf '%s\n' "$out" | grep -Eo 'eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+' | tail -n 1 || true)
    [ -n "$tok" ] || tok=$(printf '%s\n' "$out" | sed '/^[[:space:]]*$/d' | tail -n 1)
    printf '%s' "$tok"
}

ensure_postgres
ensure_docker
ensure_vm_image
export_env

HOSTPORT=${URL#http://}; HOSTPORT=${HOSTPORT%%/*}
if (exec 3<>"/dev/tcp/${HOSTPORT%%:*}/${HOSTPORT##*:}") 2>/dev/null; then
    echo "[run] something is already listening on $HOSTPORT (another ./run.sh? set PANTHEON_WEB_URL)" >&2
    exit 1
fi

echo "[run] dotnet build $PROJECT src/Pantheon.Tools -c $CONFIG" >&2
dotnet build "$PROJECT" -c "$CONFIG" -nologo -v quiet
dotnet build src/Pantheon.Tools -c "$CONFIG" -nologo -v quiet

apply_schema

TOKEN=$(dev_token)
cat >&2 <<MSG

[run] development token (user alice):
$TOKEN

  curl -H "Authorization: Bearer $TOKEN" $URL/api/me

MSG

export ASPNETCORE_URLS="$URL"
export Projects__DataRoot="${Projects__DataRoot:-$ROOT/.pantheon/data}"   # shared folders of development projects
export Urls="$URL"   # appsettings*.json "Urls" would otherwise win over ASPNETCORE_URLS
# The tools API: every address on :8090, so each project bridge's .1 too; as root it gives the bridges that address
# and the firewall rules that keep a VM to it (Tools__ManageHostNetwork, on in Development; see the README).
echo "[run] starting Pantheon.Tools on :8090" >&2
# It connects as its own role (pantheon_tools): project rows and tool events only.
ConnectionStrings__Marten="$PANTHEON_TOOLS_CONNECTION" dotnet run --project src/Pantheon.Tools -c "$CONFIG" --no-build --no-launch-profile &
TOOLS_PID=$!
trap 'kill "$TOOLS_PID" 2>/dev/null || true' EXIT
echo "[run] starting Pantheon.Web on $URL (Ctrl-C to stop)" >&2
dotnet run --project "$PROJECT" -c "$CONFIG" --no-build --no-launch-profile --
