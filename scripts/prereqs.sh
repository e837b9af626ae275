#!/usr/bin/env bash
# Local prerequisites for Pantheon: a private PostgreSQL cluster, a Docker
# engine, and tiny registry-free test images.
#
# Source it and call the functions:
#     source scripts/prereqs.sh
#     ensure_postgres; ensure_docker; ensure_vm_image; export_env
# or run it:  scripts/prereqs.sh [ensure_postgres|ensure_docker|ensure_vm_image|
#                                  export_env|stop_all|status|all]...   (default: all)
#
# Every ensure_* function is idempotent (safe to call repeatedly / concurrently;
# a flock in .pantheon/ serialises them). State lives in $ROOT/.pantheon/.
#
# Tunables (env): PANTHEON_PG_PORT (5433), PANTHEON_PG_DB (pantheon),
#                 PANTHEON_PG_OS_USER (postgres if it exists, else pantheon),
#                 DOCKER_HOST (an already running engine is used as-is).
set -euo pipefail

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
PANTHEON_STATE="$(readlink -f "$ROOT/.pantheon")"   # resolved: a worktree may link it to a shared one

PANTHEON_PG_PORT="${PANTHEON_PG_PORT:-5433}"
PANTHEON_PG_DB="${PANTHEON_PG_DB:-pantheon}"
PANTHEON_PG_DATA="$PANTHEON_STATE/pg"
PANTHEON_PG_RUN="$PANTHEON_STATE/pg-run"
PANTHEON_PG_LOG="$PANTHEON_STATE/pg.log"

PANTHEON_DEFAULT_DOCKER_HOST="unix:///var/run/docker.sock"
PANTHEON_DOCKERD_LOG="$PANTHEON_STATE/dockerd.log"
PANTHEON_DOCKERD_PID="$PANTHEON_STATE/dockerd.pid"

PANTHEON_IMAGES_DIR="${PANTHEON_IMAGES_DIR:-$PANTHEON_STATE/images}"
# Bump when the image recipe changes in a way the hashed text does not show.
PANTHEON_IMAGE_RECIPE_VERSION=1

_p_log() { printf '[prereqs] %s\n' "$*" >&2; }
_p_die() { printf '[prereqs] ERROR: %s\n' "$*" >&2; return 1; }

_p_state_dir() { mkdir -p "$PANTHEON_STATE"; chmod 755 "$PANTHEON_STATE"; }

# Run "$@" while holding an exclusive lock on .pantheon/<name>.lock.
# Daemons started under the lock must close it ({_P_LOCK_FD}>&-), or they
# would inherit the fd and hold the lock forever.
_P_LOCK_FD=
_p_locked() {
    local name=$1; shift
    _p_state_dir
    local rc=0 had_e=0
    exec {_P_LOCK_FD}>"$PANTHEON_STATE/$name.lock"
    flock "$_P_LOCK_FD"
    # Body runs in a subshell with errexit live: `"$@" || rc=$?` would switch
    # set -e off for everything inside. (So the body cannot export variables.)
    [[ $- == *e* ]] && had_e=1
    set +e
    (set -e; "$@")
    rc=$?
    [ "$had_e" = 1 ] && set -e
    exec {_P_LOCK_FD}>&-
    _P_LOCK_FD=
    return "$rc"
}

_p_apt_install() {
    local pkgs=("$@")
    command -v apt-get >/dev/null || _p_die "apt-get not available; install ${pkgs[*]} manually"
    [ "$(id -u)" = 0 ] || _p_die "need root to apt-get install ${pkgs[*]}"
    _p_log "apt-get install ${pkgs[*]}"
    # Do not let package postinst scripts start services (no init system here;
    # we start daemons ourselves). Only add policy-rc.d if none exists.
    local made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    local rc=0
    {
        if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ]; then
            DEBIAN_FRONTEND=noninteractive apt-get update -q
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" ||
            { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}"; }
    } >>"$PANTHEON_STATE/apt.log" 2>&1 || rc=$?
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || _p_die "apt-get install ${pkgs[*]} failed (see $PANTHEON_STATE/apt.log)"
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------

_p_pg_bindir() {
    local d
    if d=$(command -v pg_ctl 2>/dev/null) && [ -x "$(dirname "$d")/initdb" ]; then
        dirname "$(readlink -f "$d")"; return 0
    fi
    for d in /usr/local/bin /usr/lib/postgresql/*/bin; do
        if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then
            dirname "$(readlink -f "$d/pg_ctl")"; return 0
        fi
    done
    return 1
}

PANTHEON_PG_BIN=""
_p_pg_find_or_install() {
    if PANTHEON_PG_BIN=$(_p_pg_bindir); then return 0; fi
    _p_apt_install postgresql postgresql-client
    # Debian 12 ships 15; pick whatever version apt installed.
    PANTHEON_PG_BIN=$(_p_pg_bindir) || _p_die "initdb/pg_ctl still not found after installing postgresql"
}

# initdb/postgres refuse to run as root: the cluster is owned by a system user.
_p_pg_os_user() {
    if [ -n "${PANTHEON_PG_OS_USER:-}" ]; then
        :
    elif id -u postgres >/dev/null 2>&1; then
        PANTHEON_PG_OS_USER=postgres
    else
        PANTHEON_PG_OS_USER=pantheon
    fi
    if ! id -u "$PANTHEON_PG_OS_USER" >/dev/null 2>&1; then
        _p_log "creating system user $PANTHEON_PG_OS_USER"
        useradd --system --user-group --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin "$PANTHEON_PG_OS_USER"
    fi
    echo "$PANTHEON_PG_OS_USER"
}

# Run a PostgreSQL binary as the cluster owner (from / so no cwd warnings).
_p_pg_as() {
    local user=$1; shift
    if [ "$(id -un)" = "$user" ]; then
        (cd / && "$@")
    elif [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u "$user" -- "$@")
    else
        _p_die "must run as root or as $user to manage the cluster"
    fi
}

_p_pg_conf() {
    cat <<EOF
# Managed by scripts/prereqs.sh -- regenerated on every ensure_postgres.
listen_addresses = '127.0.0.1'
port = $PANTHEON_PG_PORT
unix_socket_directories = '$PANTHEON_PG_RUN'
max_connections = 300
shared_buffers = 128MB
# Dev/test cluster: losing the last few ms of commits on a crash is fine.
synchronous_commit = off
log_timezone = 'UTC'
timezone = 'UTC'
EOF
}

_p_pg_hba() {
    cat <<'EOF'
# Managed by scripts/prereqs.sh. Local dev cluster: trust on loopback only.
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
host    all             all             ::1/128                 trust
local   replication     all                                     trust
host    replication     all             127.0.0.1/32            trust
EOF
}

_p_psql() {
    PGPASSWORD=postgres psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PANTHEON_PG_PORT" -U postgres "$@"
}

_ensure_postgres_locked() {
    _p_pg_find_or_install
    local user; user=$(_p_pg_os_user)
    local bin=$PANTHEON_PG_BIN

    # The cluster owner must be able to reach $ROOT/.pantheon.
    if ! _p_pg_as "$user" test -x "$PANTHEON_STATE"; then
        _p_die "user $user cannot traverse $PANTHEON_STATE (a parent dir is not o+x); move the repo or set PANTHEON_PG_OS_USER"
    fi

    mkdir -p "$PANTHEON_PG_RUN"
    chown "$user:" "$PANTHEON_PG_RUN"; chmod 775 "$PANTHEON_PG_RUN"
    touch "$PANTHEON_PG_LOG"; chown "$user:" "$PANTHEON_PG_LOG"

    if [ ! -s "$PANTHEON_PG_DATA/PG_VERSION" ]; then
        _p_log "initdb $PANTHEON_PG_DATA (owner $user)"
        rm -rf "$PANTHEON_PG_DATA"
        mkdir -p "$PANTHEON_PG_DATA"
        chown "$user:" "$PANTHEON_PG_DATA"; chmod 700 "$PANTHEON_PG_DATA"
        local pwfile; pwfile=$(mktemp)
        echo postgres >"$pwfile"; chown "$user:" "$pwfile"
        if ! _p_pg_as "$user" "$bin/initdb" -D "$PANTHEON_PG_DATA" -U postgres --pwfile="$pwfile" \
                --auth=trust --encoding=UTF8 --locale=C.UTF-8 >>"$PANTHEON_PG_LOG" 2>&1; then
            rm -f "$pwfile"
            _p_die "initdb failed (see $PANTHEON_PG_LOG)"
        fi
        rm -f "$pwfile"
        grep -q "^include_if_exists = 'pantheon.conf'" "$PANTHEON_PG_DATA/postgresql.conf" ||
            echo "include_if_exists = 'pantheon.conf'" >>"$PANTHEON_PG_DATA/postgresql.conf"
    fi

    # (Re)write config; restart a running server only if it changed.
    local changed=0 tmp
    tmp=$(mktemp)
    _p_pg_conf >"$tmp"
    if ! cmp -s "$tmp" "$PANTHEON_PG_DATA/pantheon.conf"; then
        cp "$tmp" "$PANTHEON_PG_DATA/pantheon.conf"; changed=1
    fi
    _p_pg_hba >"$tmp"
    if ! cmp -s "$tmp" "$PANTHEON_PG_DATA/pg_hba.conf"; then
        cp "$tmp" "$PANTHEON_PG_DATA/pg_hba.conf"; changed=1
    fi
    rm -f "$tmp"
    chown "$user:" "$PANTHEON_PG_DATA/pantheon.conf" "$PANTHEON_PG_DATA/pg_hba.conf"

    local st=0
    _p_pg_as "$user" "$bin/pg_ctl" -D "$PANTHEON_PG_DATA" status >/dev/null 2>&1 || st=$?
    if [ "$st" = 0 ] && [ "$changed" = 1 ]; then
        _p_log "config changed; restarting postgres"
        _p_pg_as "$user" "$bin/pg_ctl" -D "$PANTHEON_PG_DATA" -m fast -w -t 60 stop >/dev/null
        st=3
    fi
    if [ "$st" != 0 ]; then
        _p_log "starting postgres on 127.0.0.1:$PANTHEON_PG_PORT (log: $PANTHEON_PG_LOG)"
        # setsid: detach from the caller's process group/session so the server
        # survives the end of the calling job/terminal.
        _p_pg_as "$user" setsid "$bin/pg_ctl" -D "$PANTHEON_PG_DATA" -l "$PANTHEON_PG_LOG" \
            -w -t 60 start >/dev/null {_P_LOCK_FD}>&- ||
            { tail -n 20 "$PANTHEON_PG_LOG" >&2; _p_die "postgres failed to start (port $PANTHEON_PG_PORT busy?)"; }
    fi

    local i isready; isready=$(command -v pg_isready || echo "$bin/pg_isready")
    for i in $(seq 1 60); do
        "$isready" -q -h 127.0.0.1 -p "$PANTHEON_PG_PORT" -U postgres && break
        [ "$i" = 60 ] && _p_die "postgres not ready after 60s (see $PANTHEON_PG_LOG)"
        sleep 1
    done

    _p_psql -d postgres -c "ALTER ROLE postgres WITH PASSWORD 'postgres'"
    if [ "$(_p_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PANTHEON_PG_DB'")" != 1 ]; then
        _p_log "creating database $PANTHEON_PG_DB"
        _p_psql -d postgres -c "CREATE DATABASE \"$PANTHEON_PG_DB\""
    fi
    ensure_db_roles "$PANTHEON_PG_DB"
}

# The owner role (schema changes: `resources setup`) and the application role (what the backend runs as), with
# their rights on database $1; scripts/db-roles.sql says what each may do. Idempotent.
ensure_db_roles() {
    PGOPTIONS='-c client_min_messages=warning' _p_psql -d "$1" -f "$ROOT/scripts/db-roles.sql" >/dev/null
}

ensure_postgres() {
    _p_locked postgres _ensure_postgres_locked
    _p_export_pg
    _p_log "postgres ready: $PANTHEON_CONNECTION_STRING"
}

_p_export_pg() {
    export PANTHEON_PG_PORT
    local at="Host=127.0.0.1;Port=$PANTHEON_PG_PORT;Database=$PANTHEON_PG_DB"
    export PANTHEON_CONNECTION_STRING="$at;Username=postgres;Password=postgres"   # the superuser: roles, databases
    export ConnectionStrings__Marten="$at;Username=pantheon_app;Password=pantheon_app"          # the backend
    export ConnectionStrings__MartenOwner="$at;Username=pantheon_owner;Password=pantheon_owner"  # resources setup
    export PANTHEON_TOOLS_CONNECTION="$at;Username=pantheon_tools;Password=pantheon_tools"        # the tools API
}

# ---------------------------------------------------------------------------
# Docker
# ---------------------------------------------------------------------------

_p_docker_ok() { timeout 15 docker info >/dev/null 2>&1; }

_p_dockerd_pid() {
    local pid
    [ -s "$PANTHEON_DOCKERD_PID" ] || return 1
    pid=$(cat "$PANTHEON_DOCKERD_PID")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
        grep -q dockerd "/proc/$pid/comm" 2>/dev/null && echo "$pid"
}

# dockerd flags. Findings in this sandbox (Firecracker VM, kernel 6.x with
# overlay, bridge, veth, nf_tables and legacy iptables built in; no systemd;
# cgroup v1 + cgroupfs driver):
#   * defaults work: overlay2 storage on ext4, iptables (Debian's nft
#     backend) and the docker0 bridge. --iptables stays ON: --internal networks
#     are isolated by iptables rules, so turning it off would silently make
#     them non-internal.
#   * no flags are required; we pin the socket and pid file explicitly so
#     stop_all only ever touches the daemon this script started.
_p_dockerd_args() {
    PANTHEON_DOCKERD_ARGS=(
        --host="$PANTHEON_DEFAULT_DOCKER_HOST"
        --pidfile="$PANTHEON_STATE/dockerd.daemon.pid"
    )
    if [ -n "${PANTHEON_DOCKERD_EXTRA_ARGS:-}" ]; then
        # shellcheck disable=SC2206
        PANTHEON_DOCKERD_ARGS+=($PANTHEON_DOCKERD_EXTRA_ARGS)
    fi
}

_ensure_docker_locked() {
    command -v docker >/dev/null || _p_apt_install docker.io
    if _p_docker_ok; then return 0; fi

    if [ -n "${DOCKER_HOST:-}" ] && [ "$DOCKER_HOST" != "$PANTHEON_DEFAULT_DOCKER_HOST" ]; then
        _p_log "DOCKER_HOST=$DOCKER_HOST does not answer; falling back to a local dockerd"
    fi
    # (ensure_docker re-exports DOCKER_HOST after this subshell.)
    export DOCKER_HOST="$PANTHEON_DEFAULT_DOCKER_HOST"
    if _p_docker_ok; then return 0; fi

    if ! command -v dockerd >/dev/null || ! command -v containerd >/dev/null || ! command -v runc >/dev/null; then
        # The docker CLI may already exist (/usr/local/bin/docker); docker.io
        # brings dockerd + containerd + runc (+ iptables).
        _p_apt_install docker.io containerd runc iptables
    fi

    local pid
    if ! pid=$(_p_dockerd_pid); then
        rm -f "$PANTHEON_DOCKERD_PID"
        _p_dockerd_args
        _p_log "starting dockerd ${PANTHEON_DOCKERD_ARGS[*]} (log: $PANTHEON_DOCKERD_LOG)"
        # setsid+nohup: own session, survives the calling job; stdin closed.
        setsid nohup dockerd "${PANTHEON_DOCKERD_ARGS[@]}" \
            >>"$PANTHEON_DOCKERD_LOG" 2>&1 </dev/null {_P_LOCK_FD}>&- &
        pid=$!
        echo "$pid" >"$PANTHEON_DOCKERD_PID"
    fi

    local i
    for i in $(seq 1 60); do
        if _p_docker_ok; then return 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PANTHEON_DOCKERD_PID"
            tail -n 25 "$PANTHEON_DOCKERD_LOG" >&2
            _p_die "dockerd exited (see $PANTHEON_DOCKERD_LOG)"
        fi
        sleep 1
    done
    tail -n 25 "$PANTHEON_DOCKERD_LOG" >&2
    _p_die "docker info did not answer within 60s (see $PANTHEON_DOCKERD_LOG)"
}

ensure_docker() {
    _p_locked docker _ensure_docker_locked
    # A configured DOCKER_HOST that does not answer was replaced by our daemon.
    if [ -n "${DOCKER_HOST:-}" ] && ! _p_docker_ok; then
        export DOCKER_HOST="$PANTHEON_DEFAULT_DOCKER_HOST"
    fi
    _p_export_docker
    _p_log "docker ready: $Docker__Endpoint"
}

_p_export_docker() {
    export Docker__Endpoint="${DOCKER_HOST:-$PANTHEON_DEFAULT_DOCKER_HOST}"
}

# ---------------------------------------------------------------------------
# Test images (no registry: FROM scratch + Debian's static busybox)
# ---------------------------------------------------------------------------
#  pantheon/busybox:latest            busybox rootfs, CMD ["sh"]; use it with a
#                                     command, e.g. httpd -f -p 8888 -h /srv
#  pantheon/file-server:latest        FROM pantheon/busybox, CMD httpd -f -p 8888 -h /srv
#  pantheon/test-vm:latest            FROM pantheon/busybox; creates /tmp/ready
#                                     after $READY_DELAY (1s) then idles; healthy
#                                     once /tmp/ready exists; exits 0 on TERM/INT
#  pantheon/test-vm-unhealthy:latest  FROM pantheon/test-vm; healthcheck always fails
# Health: interval 1s, timeout 10s (a loaded machine runs the check slowly), retries 3 -> test-vm is `healthy` ~1-2s after
# start; test-vm-unhealthy turns `unhealthy` after ~3s. `docker stop` is instant.
# Gotcha: Debian's busybox 1.35 is built without FEATURE_WGET_TIMEOUT, so
# `wget -T N` SEGFAULTS (exit 139). Use `timeout N wget ...` instead.

_p_df_busybox() {
    cat <<'EOF'
FROM scratch
COPY rootfs/ /
ENV PATH=/bin
CMD ["sh"]
EOF
}

_p_df_file_server() {
    cat <<'EOF'
FROM pantheon/busybox:latest
EXPOSE 8888
CMD ["httpd", "-f", "-v", "-p", "8888", "-h", "/srv"]
EOF
}

_p_vm_init() {
    cat <<'EOF'
#!/bin/sh
# PID 1 of pantheon/test-vm. Signals are only delivered to PID 1 if trapped;
# waiting on background sleeps makes TERM handling immediate.
trap 'exit 0' TERM INT
rm -f /tmp/ready
sleep "${READY_DELAY:-1}" & wait $!
touch /tmp/ready
while :; do sleep 3600 & wait $!; done
EOF
}

_p_df_test_vm() {
    cat <<'EOF'
FROM pantheon/busybox:latest
COPY vm-init /bin/vm-init
HEALTHCHECK --interval=1s --timeout=10s --retries=3 CMD ["/bin/sh", "-c", "test -f /tmp/ready"]
STOPSIGNAL SIGTERM
CMD ["/bin/vm-init"]
EOF
}

_p_df_test_vm_unhealthy() {
    cat <<'EOF'
FROM pantheon/test-vm:latest
HEALTHCHECK --interval=1s --timeout=1s --retries=3 CMD ["/bin/sh", "-c", "exit 1"]
EOF
}

_p_sha() { sha256sum | cut -c1-16; }

_p_image_label() {
    docker image inspect -f '{{ index .Config.Labels "pantheon.hash" }}' "$1" 2>/dev/null || true
}

# _p_build_image <tag> <hash> <context-dir>   (Dockerfile already in context)
_p_build_image() {
    local tag=$1 hash=$2 ctx=$3; shift 3
    _p_log "building $tag ($hash)"
    # Classic builder: FROM scratch / local images only, no registry access,
    # and works whether or not the buildx plugin is installed.
    DOCKER_BUILDKIT=0 docker build -q --label "pantheon.hash=$hash" "$@" -t "$tag" "$ctx" >/dev/null 2>"$ctx/build.err" ||
        { cat "$ctx/build.err" >&2; _p_die "docker build $tag failed"; }
}

_p_make_rootfs() {
    local rootfs=$1
    if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
        _p_apt_install busybox-static
    fi
    local bb=/bin/busybox
    [ -x "$bb" ] || _p_die "/bin/busybox missing after installing busybox-static"
    rm -rf "$rootfs"
    mkdir -p "$rootfs"/{bin,dev,etc,proc,sys,root,srv,var/log,usr} "$rootfs/tmp"
    chmod 1777 "$rootfs/tmp"; chmod 700 "$rootfs/root"
    cp "$bb" "$rootfs/bin/busybox"
    # Equivalent of `busybox --install -s`, but with *relative* links: the
    # host busybox would point them at /usr/bin/busybox (its own resolved path).
    local a
    for a in $("$bb" --list); do
        [ "$a" = busybox ] || ln -sf busybox "$rootfs/bin/$a"
    done
    ln -s bin "$rootfs/sbin"; ln -s ../bin "$rootfs/usr/bin"; ln -s ../bin "$rootfs/usr/sbin"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
}

_ensure_vm_image_locked() {
    local h_base h_fs h_vm h_unh
    h_base=$({ echo "v$PANTHEON_IMAGE_RECIPE_VERSION"; _p_df_busybox; declare -f _p_make_rootfs; } | _p_sha)
    h_fs=$({ echo "$h_base"; _p_df_file_server; } | _p_sha)
    h_vm=$({ echo "$h_base"; _p_df_test_vm; _p_vm_init; } | _p_sha)
    h_unh=$({ echo "$h_vm"; _p_df_test_vm_unhealthy; } | _p_sha)

    if [ "$(_p_image_label pantheon/busybox:latest)" = "$h_base" ] &&
       [ "$(_p_image_label pantheon/file-server:latest)" = "$h_fs" ] &&
       [ "$(_p_image_label pantheon/test-vm:latest)" = "$h_vm" ] &&
       [ "$(_p_image_label pantheon/test-vm-unhealthy:latest)" = "$h_unh" ]; then
        return 0
    fi

    local d=$PANTHEON_IMAGES_DIR rebuilt=0
    mkdir -p "$d"
    if [ "$(_p_image_label pantheon/busybox:latest)" != "$h_base" ]; then
        rm -rf "$d/busybox"; mkdir -p "$d/busybox"
        _p_make_rootfs "$d/busybox/rootfs"
        _p_df_busybox >"$d/busybox/Dockerfile"
        _p_build_image pantheon/busybox:latest "$h_base" "$d/busybox"
        rebuilt=1
    fi
    if [ "$rebuilt" = 1 ] || [ "$(_p_image_label pantheon/file-server:latest)" != "$h_fs" ]; then
        rm -rf "$d/file-server"; mkdir -p "$d/file-server"
        _p_df_file_server >"$d/file-server/Dockerfile"
        _p_build_image pantheon/file-server:latest "$h_fs" "$d/file-server"
    fi
    if [ "$rebuilt" = 1 ] || [ "$(_p_image_label pantheon/test-vm:latest)" != "$h_vm" ]; then
        rm -rf "$d/test-vm"; mkdir -p "$d/test-vm"
        _p_df_test_vm >"$d/test-vm/Dockerfile"
        _p_vm_init >"$d/test-vm/vm-init"; chmod 755 "$d/test-vm/vm-init"
        _p_build_image pantheon/test-vm:latest "$h_vm" "$d/test-vm"
        rebuilt=1
    fi
    if [ "$rebuilt" = 1 ] || [ "$(_p_image_label pantheon/test-vm-unhealthy:latest)" != "$h_unh" ]; then
        rm -rf "$d/test-vm-unhealthy"; mkdir -p "$d/test-vm-unhealthy"
        _p_df_test_vm_unhealthy >"$d/test-vm-unhealthy/Dockerfile"
        _p_build_image pantheon/test-vm-unhealthy:latest "$h_unh" "$d/test-vm-unhealthy"
    fi
    # Old untagged layers from previous recipes.
    docker image prune -f --filter "label=pantheon.hash" >/dev/null 2>&1 || true
}

ensure_vm_image() {
    _p_docker_ok || _p_die "docker is not reachable; run ensure_docker first"
    _p_locked images _ensure_vm_image_locked
    _p_log "images ready: pantheon/busybox pantheon/file-server pantheon/test-vm pantheon/test-vm-unhealthy"
}

# ---------------------------------------------------------------------------
# pantheon/test-desktop: a Debian desktop standing in for dockurr/windows (noVNC on 8006, VNC on 5900)
# ---------------------------------------------------------------------------
# The recipe is images/test-desktop/ (rootfs.sh + packages.txt make the root file system; the Dockerfile adds the
# init, ports and health check). The root file system is cached as a tarball under .pantheon/images, keyed by a hash
# of its recipe, so only a changed recipe runs debootstrap again.

PANTHEON_DESKTOP_RECIPE="$ROOT/images/test-desktop"
# The image's tag; its root file system is imported as "$PANTHEON_DESKTOP_IMAGE-rootfs". Overridable, so that a cold
# build can be timed beside the shared image (with PANTHEON_IMAGES_DIR pointing at an empty folder).
PANTHEON_DESKTOP_IMAGE="${PANTHEON_DESKTOP_IMAGE:-pantheon/test-desktop}"

# The Debian mirror this machine's apt sources name (deb822 or one-line format).
_p_apt_mirror() {
    local uri
    uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n 1 || true)
    [ -n "$uri" ] || uri=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '{print $2}' | grep -v security | head -n 1 || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

_ensure_desktop_image_locked() {
    local h_rootfs h_image
    h_rootfs=$(cat "$PANTHEON_DESKTOP_RECIPE/rootfs.sh" "$PANTHEON_DESKTOP_RECIPE/packages.txt" | _p_sha)
    h_image=$({ echo "$h_rootfs"; cat "$PANTHEON_DESKTOP_RECIPE/Dockerfile" "$PANTHEON_DESKTOP_RECIPE/desktop-init"; } | _p_sha)
    [ "$(_p_image_label "$PANTHEON_DESKTOP_IMAGE:latest")" = "$h_image" ] && return 0

    local d=$PANTHEON_IMAGES_DIR tar="$PANTHEON_IMAGES_DIR/test-desktop-rootfs-$h_rootfs.tar"
    mkdir -p "$d"
    if [ "$(_p_image_label "$PANTHEON_DESKTOP_IMAGE-rootfs:latest")" != "$h_rootfs" ]; then
        if [ ! -s "$tar" ]; then
            command -v debootstrap >/dev/null || _p_apt_install debootstrap
            local started=$SECONDS rootfs="$d/test-desktop-rootfs"
            umount "$rootfs/proc" 2>/dev/null || true
            rm -rf "$rootfs" "$d"/test-desktop-rootfs-*.tar
            _p_log "building the test desktop's root file system with debootstrap ($(_p_apt_mirror)); the first time takes minutes"
            bash "$PANTHEON_DESKTOP_RECIPE/rootfs.sh" "$rootfs" "$(_p_apt_mirror)" >>"$d/test-desktop-rootfs.log" 2>&1 ||
                { tail -n 20 "$d/test-desktop-rootfs.log" >&2
                  _p_die "the test desktop's root file system failed (see $d/test-desktop-rootfs.log)"; }
            tar -C "$rootfs" -cf "$tar.part" . && mv "$tar.part" "$tar"
            rm -rf "$rootfs"
            _p_log "root file system built in $((SECONDS - started)) s ($(du -h "$tar" | cut -f1))"
        fi
        docker import --change "LABEL pantheon.hash=$h_rootfs" "$tar" "$PANTHEON_DESKTOP_IMAGE-rootfs:latest" >/dev/null
    fi
    local ctx="$d/test-desktop"
    rm -rf "$ctx"; mkdir -p "$ctx"
    cp "$PANTHEON_DESKTOP_RECIPE/Dockerfile" "$PANTHEON_DESKTOP_RECIPE/desktop-init" "$ctx/"
    _p_build_image "$PANTHEON_DESKTOP_IMAGE:latest" "$h_image" "$ctx" --build-arg "ROOTFS=$PANTHEON_DESKTOP_IMAGE-rootfs:latest"
    docker image prune -f --filter "label=pantheon.hash" >/dev/null 2>&1 || true
}

ensure_desktop_image() {
    _p_docker_ok || _p_die "docker is not reachable; run ensure_docker first"
    _p_locked images _ensure_desktop_image_locked
    _p_log "image ready: $PANTHEON_DESKTOP_IMAGE"
}

# ---------------------------------------------------------------------------
# The deployment's images, no registry: pantheon/server-base, pantheon/postgres, pantheon/oidc, pantheon/backend,
# pantheon/tools (see compose/docker-compose.offline.yml)
# ---------------------------------------------------------------------------
# Recipes under images/: server-base/rootfs.sh makes each root file system (debootstrap minbase + server-base/packages.txt;
# postgres/ and oidc/ add their packages.txt to a copy of that root). Each root is cached as a tarball under
# .pantheon/images keyed by its recipe's hash (a variant's hash includes the base's), so debootstrap runs only when a
# recipe changes. The backend and the tools API are published self-contained for linux-x64 into their build context,
# keyed by a hash of the sources; the oidc image's npm packages come from `npm ci` of its package-lock.json.

PANTHEON_DEPLOY_RECIPES="$ROOT/images"

# _p_rootfs <name> <hash> <base-tar-or-empty> <packages-file>: the cached tarball of a root file system, built if missing.
_p_rootfs() {
    local name=$1 hash=$2 base=$3 packages=$4 d=$PANTHEON_IMAGES_DIR
    local tar="$d/$name-rootfs-$hash.tar"
    if [ ! -s "$tar" ]; then
        command -v debootstrap >/dev/null || _p_apt_install debootstrap
        local started=$SECONDS rootfs="$d/$name-rootfs"
        umount "$rootfs/proc" 2>/dev/null || true
        rm -rf "$rootfs" "$d/$name"-rootfs-*.tar
        _p_log "building the root file system of $name ($(_p_apt_mirror)); the first time takes minutes"
        bash "$PANTHEON_DEPLOY_RECIPES/server-base/rootfs.sh" "$rootfs" "$(_p_apt_mirror)" $base "$packages" \
            >>"$d/$name-rootfs.log" 2>&1 ||
            { tail -n 20 "$d/$name-rootfs.log" >&2; _p_die "the root file system of $name failed (see $d/$name-rootfs.log)"; }
        tar -C "$rootfs" -cf "$tar.part" . && mv "$tar.part" "$tar"
        rm -rf "$rootfs"
        _p_log "root file system of $name built in $((SECONDS - started)) s ($(du -h "$tar" | cut -f1))"
    fi
    echo "$tar"
}

# _p_import_rootfs <tag> <hash> <tar>: docker import unless the tag already holds that hash.
_p_import_rootfs() {
    [ "$(_p_image_label "$1")" = "$2" ] && return 0
    docker import --change "LABEL pantheon.hash=$2" "$3" "$1" >/dev/null
}

# _p_sources_hash <project-dir>...: the sources the published app is made of (and the build's shared files).
_p_sources_hash() {
    (cd "$ROOT" && find "$@" Directory.Build.props Directory.Build.targets Directory.Packages.props -type f \
        -not -path '*/bin/*' -not -path '*/obj/*' -print0 | sort -z | xargs -0 sha256sum) | _p_sha
}

# _p_publish_image <tag> <project-dir> <recipe-dir> <base-hash>: dotnet publish (self-contained, linux-x64) and build.
_p_publish_image() {
    local tag=$1 project=$2 recipe=$3 base_hash=$4 h
    h=$({ echo "$base_hash"; _p_sources_hash "$project" src/Pantheon.Domain src/Pantheon.Handlers src/Pantheon.Projections
          cat "$recipe/Dockerfile"; } | _p_sha)
    [ "$(_p_image_label "$tag:latest")" = "$h" ] && return 0
    local ctx="$PANTHEON_IMAGES_DIR/$(basename "$recipe")" started=$SECONDS
    rm -rf "$ctx"; mkdir -p "$ctx"
    _p_log "publishing $project (self-contained, linux-x64)"
    (cd "$ROOT" && dotnet publish "$project" -c Release -r linux-x64 --self-contained -nologo -v q -o "$ctx/app") \
        >"$ctx/publish.log" 2>&1 || { tail -n 30 "$ctx/publish.log" >&2; _p_die "dotnet publish $project failed"; }
    cp "$recipe/Dockerfile" "$ctx/"
    _p_build_image "$tag:latest" "$h" "$ctx" --build-arg "BASE=pantheon/server-base:latest"
    rm -rf "$ctx/app"
    _p_log "$tag built in $((SECONDS - started)) s"
}

_ensure_deploy_images_locked() {
    local r=$PANTHEON_DEPLOY_RECIPES h_base h_pg h_oidc tar ctx h
    mkdir -p "$PANTHEON_IMAGES_DIR"
    h_base=$(cat "$r/server-base/rootfs.sh" "$r/server-base/packages.txt" | _p_sha)
    local base_tar; base_tar=$(_p_rootfs server-base "$h_base" "" "$r/server-base/packages.txt")
    _p_import_rootfs pantheon/server-base-rootfs:latest "$h_base" "$base_tar"
    h=$({ echo "$h_base"; cat "$r/server-base/Dockerfile" "$r/server-base/pantheon-entrypoint"; } | _p_sha)
    if [ "$(_p_image_label pantheon/server-base:latest)" != "$h" ]; then
        ctx="$PANTHEON_IMAGES_DIR/server-base"; rm -rf "$ctx"; mkdir -p "$ctx"
        cp "$r/server-base/Dockerfile" "$r/server-base/pantheon-entrypoint" "$ctx/"
        _p_build_image pantheon/server-base:latest "$h" "$ctx" --build-arg ROOTFS=pantheon/server-base-rootfs:latest
    fi
    local h_server=$h

    h_pg=$({ echo "$h_base"; cat "$r/postgres/packages.txt"; } | _p_sha)
    tar=$(_p_rootfs postgres "$h_pg" "$base_tar" "$r/postgres/packages.txt")
    _p_import_rootfs pantheon/postgres-rootfs:latest "$h_pg" "$tar"
    h=$({ echo "$h_pg"; cat "$r/postgres/Dockerfile" "$r/postgres/postgres-entrypoint"; } | _p_sha)
    if [ "$(_p_image_label pantheon/postgres:latest)" != "$h" ]; then
        ctx="$PANTHEON_IMAGES_DIR/postgres"; rm -rf "$ctx"; mkdir -p "$ctx"
        cp "$r/postgres/Dockerfile" "$r/postgres/postgres-entrypoint" "$ctx/"
        _p_build_image pantheon/postgres:latest "$h" "$ctx" --build-arg ROOTFS=pantheon/postgres-rootfs:latest
    fi

    h_oidc=$({ echo "$h_base"; cat "$r/oidc/packages.txt"; } | _p_sha)
    tar=$(_p_rootfs oidc "$h_oidc" "$base_tar" "$r/oidc/packages.txt")
    _p_import_rootfs pantheon/oidc-rootfs:latest "$h_oidc" "$tar"
    h=$({ echo "$h_oidc"; cat "$r/oidc/Dockerfile" "$r/oidc/server.mjs" "$r/oidc/package.json" "$r/oidc/package-lock.json"; } | _p_sha)
    if [ "$(_p_image_label pantheon/oidc:latest)" != "$h" ]; then
        command -v npm >/dev/null || _p_apt_install npm
        ctx="$PANTHEON_IMAGES_DIR/oidc"; rm -rf "$ctx"; mkdir -p "$ctx"
        cp "$r/oidc/Dockerfile" "$r/oidc/server.mjs" "$r/oidc/package.json" "$r/oidc/package-lock.json" "$ctx/"
        (cd "$ctx" && npm ci --omit=dev --no-audit --no-fund --ignore-scripts) >"$ctx/npm.log" 2>&1 ||
            { tail -n 20 "$ctx/npm.log" >&2; _p_die "npm ci for pantheon/oidc failed"; }
        _p_build_image pantheon/oidc:latest "$h" "$ctx" --build-arg ROOTFS=pantheon/oidc-rootfs:latest
        rm -rf "$ctx/node_modules"
    fi

    _p_publish_image pantheon/backend src/Pantheon.Web "$r/backend" "$h_server"
    _p_publish_image pantheon/tools src/Pantheon.Tools "$r/tools" "$h_server"
    docker image prune -f --filter "label=pantheon.hash" >/dev/null 2>&1 || true
}

ensure_deploy_images() {
    _p_docker_ok || _p_die "docker is not reachable; run ensure_docker first"
    command -v docker-compose >/dev/null || _p_apt_install docker-compose
    _p_locked deploy-images _ensure_deploy_images_locked
    _p_log "images ready: pantheon/postgres pantheon/oidc pantheon/backend pantheon/tools"
}

# ---------------------------------------------------------------------------

export_env() {
    _p_export_pg
    _p_export_docker
    export DOCKER_HOST="$Docker__Endpoint"
}

stop_all() {
    local user pid
    if [ -s "$PANTHEON_PG_DATA/PG_VERSION" ] && PANTHEON_PG_BIN=$(_p_pg_bindir); then
        user=$(_p_pg_os_user)
        if _p_pg_as "$user" "$PANTHEON_PG_BIN/pg_ctl" -D "$PANTHEON_PG_DATA" status >/dev/null 2>&1; then
            _p_log "stopping postgres"
            _p_pg_as "$user" "$PANTHEON_PG_BIN/pg_ctl" -D "$PANTHEON_PG_DATA" -m fast -w -t 60 stop >/dev/null
        fi
    fi
    if pid=$(_p_dockerd_pid); then
        _p_log "stopping dockerd (pid $pid)"
        kill -TERM "$pid"
        local i
        for i in $(seq 1 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 1
        done
        if kill -0 "$pid" 2>/dev/null; then
            _p_log "dockerd did not stop in 30s; sending KILL"
            kill -KILL "$pid" || true
        fi
    else
        _p_log "no dockerd started by this script is running; leaving docker alone"
    fi
    rm -f "$PANTHEON_DOCKERD_PID"
}

status() {
    local user
    if PANTHEON_PG_BIN=$(_p_pg_bindir) && [ -s "$PANTHEON_PG_DATA/PG_VERSION" ]; then
        user=$(_p_pg_os_user)
        _p_pg_as "$user" "$PANTHEON_PG_BIN/pg_ctl" -D "$PANTHEON_PG_DATA" status || true
    else
        echo "postgres: no cluster at $PANTHEON_PG_DATA"
    fi
    if _p_docker_ok; then echo "docker: up (${DOCKER_HOST:-$PANTHEON_DEFAULT_DOCKER_HOST})"; else echo "docker: down"; fi
    if pid=$(_p_dockerd_pid); then echo "dockerd started by prereqs.sh: pid $pid"; fi
}

ensure_all() {
    ensure_postgres
    ensure_docker
    ensure_vm_image
    export_env
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    [ "$#" -gt 0 ] || set -- all
    for _p_cmd in "$@"; do
        case "$_p_cmd" in
            all) ensure_all ;;
            ensure_postgres|ensure_docker|ensure_vm_image|ensure_desktop_image|ensure_deploy_images|stop_all|status) "$_p_cmd" ;;
            export_env) export_env
                for _p_v in PANTHEON_CONNECTION_STRING ConnectionStrings__Marten ConnectionStrings__MartenOwner PANTHEON_TOOLS_CONNECTION Docker__Endpoint DOCKER_HOST; do
                    printf 'export %s=%q\n' "$_p_v" "${!_p_v}"
                done ;;
            *) _p_die "unknown command: $_p_cmd (try: all ensure_postgres ensure_docker ensure_vm_image export_env stop_all status)" ;;
        esac
    done
fi
