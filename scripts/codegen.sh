#!/usr/bin/env bash
# Regenerates Wolverine's committed code: drop the old files (stale ones may not compile), build, write.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rm -rf src/Pantheon.Web/Internal/Generated
dotnet build src/Pantheon.Web -nologo -v quiet
dotnet run --project src/Pantheon.Web --no-build -- codegen write >/dev/null
echo "codegen: $(ls src/Pantheon.Web/Internal/Generated/WolverineHandlers | wc -l) files in src/Pantheon.Web/Internal/Generated"
