#!/usr/bin/env bash
# Deploys Pantheon's compose stack (compose/docker-compose.production.yml), as the original product's deploy.sh:
#   1. checks compose/.env (copied from compose/.env.example when missing) and generates every secret that is empty;
#   2. starts PostgreSQL, makes the database roles (scripts/db-roles.sql) with their passwords from .env
#      and Keycloak's database, and applies the schema with `resources setup` as the owner role;
#   3. brings the whole stack up, waits until every service is healthy, and prints the URLs.
#
#   ./deploy.sh [--offline] [--down]
#     --offline  adds compose/docker-compose.offline.yml: images built here, no registry (scripts/prereqs.sh builds them)
#     --down     stops the stack and removes its containers, networks and volumes (the database too)
# Environment: PANTHEON_ENV_FILE (default compose/.env), PANTHEON_STACK (the compose project, default pantheon),
# PANTHEON_HEALTH_TIMEOUT_SECONDS (default 600). Needs docker and docker-compose (1.29 works).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

offline=0 down=0
for arg in "$@"; do
    case "$arg" in
        --offline) offline=1 ;;
        --down) down=1 ;;
        *) echo "usage: $0 [--offline] [--down]" >&2; exit 2 ;;
    esac
done

log() { printf '[deploy] %s\n' "$*" >&2; }
die() { printf '[deploy] ERROR: %s\n' "$*" >&2; exit 1; }

ENV_FILE="${PANTHEON_ENV_FILE:-$ROOT/compose/.env}"
command -v docker >/dev/null || die "docker is not installed"
command -v docker-compose >/dev/null || die "docker-compose is not installed (Debian: apt-get install docker-compose)"

# --- 1. compose/.env --------------------------------------------------------------------------------------------
if [ ! -f "$ENV_FILE" ]; then
    cp "$ROOT/compose/.env.example" "$ENV_FILE"
    chmod 600 "$ENV_FILE"
    log "created $ENV_FILE from compose/.env.example"
fi
env_get() { sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1; }
env_set() {
    if grep -q "^$1=" "$ENV_FILE"; then
        local tmp; tmp=$(mktemp)
        awk -v k="$1" -v v="$2" 'BEGIN { FS = OFS = "=" } $1 == k { print k "=" v; next } { print }' "$ENV_FILE" >"$tmp"
        cat "$tmp" >"$ENV_FILE"; rm -f "$tmp"
    else
        printf '%s=%s\n' "$1" "$2" >>"$ENV_FILE"
    fi
}
secret() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c "$1"; }
for name in MCP_MASTER_SECRET:64 POSTGRES_PASSWORD:32 PANTHEON_DB_OWNER_PASSWORD:32 PANTHEON_DB_APP_PASSWORD:32 \
            PANTHEON_DB_TOOLS_PASSWORD:32 KEYCLOAK_ADMIN_PASSWORD:24; do
    key=${name%%:*} length=${name##*:}
    value=$(env_get "$key")
    # An example's placeholder is never a secret.
    case "$value" in ''|your_*|change*|changeme*|example*|secure_password|admin|postgres)
        env_set "$key" "$(secret "$length")"
        log "generated $key in $ENV_FILE" ;;
    esac
done
[ "$(env_get MCP_MASTER_SECRET | wc -c)" -gt 32 ] || die "MCP_MASTER_SECRET in $ENV_FILE must have at least 32 characters"
for key in OPENROUTER_API_KEY GEMINI_API_KEY; do
    [ -n "$(env_get "$key")" ] || log "note: $key is empty: chat works only with the users' own provider keys"
done

# Variables from the file, overridden by the environment (as docker-compose does it).
set -a
# shellcheck disable=SC1090
eval "$(grep -E '^[A-Za-z_][A-Za-z0-9_]*=' "$ENV_FILE" | while IFS='=' read -r k v; do
    [ -n "${!k+x}" ] || printf '%s=%q\n' "$k" "$v"; done)"
set +a
STACK="${PANTHEON_STACK:-pantheon}"
export PANTHEON_STACK="$STACK"
NET_PREFIX="${PANTHEON_NET_PREFIX:-10.0.1}"
files=(-f "$ROOT/compose/docker-compose.production.yml")
[ "$offline" = 1 ] && files+=(-f "$ROOT/compose/docker-compose.offline.yml")
compose() { docker-compose --project-name "$STACK" --project-directory "$ROOT/compose" --env-file "$ENV_FILE" "${files[@]}" "$@"; }

if [ "$down" = 1 ]; then
    log "stopping stack $STACK and removing its containers, networks and volumes"
    compose down --volumes --remove-orphans
    exit 0
fi

# The backend runs as pantheon_app, the tools API as pantheon_tools (it reads projects and records tool events, nothing
# else) and the schema is applied as pantheon_owner (scripts/db-roles.sql). Never as the superuser: it ignores row policies.
[ -f "$ROOT/scripts/db-roles.sql" ] || die "scripts/db-roles.sql is missing: the database roles cannot be made"
export PANTHEON_DB_APP_USER=pantheon_app PANTHEON_DB_TOOLS_USER=pantheon_tools
OWNER_USER=pantheon_owner OWNER_PASSWORD="$PANTHEON_DB_OWNER_PASSWORD"

DATA_ROOT="${PANTHEON_DATA_ROOT:-/var/lib/pantheon}"
mkdir -p "$DATA_ROOT"

wait_healthy() { # container...
    local deadline=$((SECONDS + ${PANTHEON_HEALTH_TIMEOUT_SECONDS:-600})) c state pending
    while :; do
        pending=()
        for c in "$@"; do
            state=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$c" 2>/dev/null || echo missing)
            [ "$state" = healthy ] || pending+=("$c=$state")
        done
        [ "${#pending[@]}" = 0 ] && return 0
        if [ "$SECONDS" -ge "$deadline" ]; then
            compose ps >&2 || true
            compose logs --tail 40 >&2 || true
            die "not healthy in time: ${pending[*]}"
        fi
        sleep 2
    done
}
container_of() { compose ps -q "$1"; }

# --- 2. database ------------------------------------------------------------------------------------------------
log "starting postgres"
compose up -d postgres
wait_healthy "$(container_of postgres)"
psql_super() { docker exec -i -e PGPASSWORD="$POSTGRES_PASSWORD" "$(container_of postgres)" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres "$@"; }
if [ "$(psql_super -d postgres -tAc "select 1 from pg_database where datname = 'keycloak'")" != 1 ]; then
    psql_super -d postgres -c 'create database keycloak'
fi
log "database roles (scripts/db-roles.sql) with the passwords of $ENV_FILE"
psql_super -d pantheon <"$ROOT/scripts/db-roles.sql"
printf "alter role pantheon_owner password '%s';\nalter role pantheon_app password '%s';\nalter role pantheon_tools password '%s';\n" \
    "$PANTHEON_DB_OWNER_PASSWORD" "$PANTHEON_DB_APP_PASSWORD" "$PANTHEON_DB_TOOLS_PASSWORD" | psql_super -d pantheon
log "applying the schema (resources setup) as $OWNER_USER"
owner="Host=postgres;Port=5432;Database=pantheon;Username=$OWNER_USER;Password=$OWNER_PASSWORD"
docker run --rm --network "${STACK}_ai-network" \
    -e ASPNETCORE_ENVIRONMENT=Production -e MCP_MASTER_SECRET \
    -e "ConnectionStrings__MartenOwner=$owner" \
    -e "ConnectionStrings__Marten=Host=postgres;Port=5432;Database=pantheon;Username=$PANTHEON_DB_APP_USER;Password=$PANTHEON_DB_APP_PASSWORD" \
    -e Auth__Authority=http://keycloak:8080/realms/pantheon \
    "${PANTHEON_BACKEND_IMAGE:-pantheon/backend:latest}" /opt/pantheon/backend/Pantheon.Web resources setup >&2

# --- 3. the stack -----------------------------------------------------------------------------------------------
log "starting the stack $STACK"
compose up -d
wait_healthy "$(container_of postgres)" "$(container_of keycloak)" "$(container_of backend)" "$(container_of tools)"

cat >&2 <<MSG
[deploy] Pantheon is up (stack $STACK):
  backend API     http://localhost:${PANTHEON_BACKEND_PORT:-3002}   (OpenAPI: /openapi/v1.json, operations: /admin/)
  identity        ${KEYCLOAK_PUBLIC_URL:-http://localhost:8080}/realms/pantheon   (Keycloak admin console: user admin)
  tools API       http://$NET_PREFIX.6:8090 on the main network, .1:8090 of every project network
  logs            docker-compose -p $STACK -f compose/docker-compose.production.yml logs -f
MSG
