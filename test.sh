#!/usr/bin/env bash
# Run the test suite against a private Postgres + local Docker engine.
#   ./test.sh [dotnet test args...]    e.g. ./test.sh --filter Category=Unit
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

# shellcheck source=scripts/prereqs.sh
source "$ROOT/scripts/prereqs.sh"

ensure_postgres
ensure_docker
ensure_vm_image
# The viewer tests run pantheon/test-desktop (a debootstrap root, cached under .pantheon/images by its recipe's hash).
ensure_desktop_image
# The deployment test (collection "deployment") brings up the compose stack on images built here: Debian roots cached
# under .pantheon/images by their recipe's hash, the backend and tools API published when their sources change.
ensure_deploy_images
export_env
# The fault suite stops and starts a Docker engine of its own (PrivateDockerEngine), never the shared one: it needs the
# daemon's binaries here even when the shared engine is another machine's.
if ! command -v dockerd >/dev/null 2>&1 || ! command -v containerd >/dev/null 2>&1; then
    _p_apt_install docker.io containerd runc iptables
fi
# The operations page is tested in Debian's headless Chromium.
if ! command -v chromium >/dev/null 2>&1; then
    echo "[test] installing chromium" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
# The tests use their own database in the same cluster, apart from the one ./run.sh serves.
export PANTHEON_TEST_CONNECTION="${PANTHEON_TEST_CONNECTION:-Host=127.0.0.1;Port=${PANTHEON_PG_PORT:-5433};Database=pantheon_tests;Username=postgres;Password=postgres;Maximum Pool Size=40}"

SLN="$ROOT/Pantheon.sln"
if [ ! -f "$SLN" ]; then
    echo "test.sh: $SLN not found (no solution yet); nothing to test" >&2
    exit 1
fi

# A hung test must not hang the run. xunit names every test running longer than 2 minutes (xunit.runner.json);
# VSTest's blame collector stops a test host whose test has run PANTHEON_TEST_HANG_MINUTES (default 10) and prints
# the tests that were running; the whole run ends after PANTHEON_TEST_TIMEOUT_MINUTES (default 40) whatever happens.
HANG_MINUTES="${PANTHEON_TEST_HANG_MINUTES:-10}"
TIMEOUT_MINUTES="${PANTHEON_TEST_TIMEOUT_MINUTES:-40}"
BLAME=(--blame-hang --blame-hang-timeout "${HANG_MINUTES}m" --blame-hang-dump-type none)

# .NET 10 SDK: with Microsoft.Testing.Platform opted in via global.json the
# solution must be passed as --solution; classic VSTest takes it positionally.
if [ -f global.json ] && grep -q 'Microsoft.Testing.Platform' global.json; then
    exec timeout --kill-after=60s "${TIMEOUT_MINUTES}m" dotnet test --solution "$SLN" "$@"
fi
# Each test project writes a TRX file; the run's last lines name the failed tests from them (scripts/test-summary.pl),
# since a long log is often read from its end.
RESULTS="$ROOT/.pantheon/test-results"
rm -rf "$RESULTS"
rc=0
timeout --kill-after=60s "${TIMEOUT_MINUTES}m" dotnet test "$SLN" "${BLAME[@]}" --results-directory "$RESULTS" --logger trx "$@" || rc=$?
perl "$ROOT/scripts/test-summary.pl" "$RESULTS"
exit "$rc"
