#!/usr/bin/env bash
# The root file system of pantheon/test-desktop: a minimal Debian bookworm from the mirror this machine's apt sources
# name, plus packages.txt. Usage: rootfs.sh DIR MIRROR. Runs as root; leaves DIR ready for `tar -C DIR -c . | docker import`.
set -euo pipefail
dir=$1 mirror=$2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

debootstrap --variant=minbase bookworm "$dir" "$mirror" >&2
# No services start inside the chroot while packages install.
printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"; chmod +x "$dir/usr/sbin/policy-rc.d"
mount -t proc proc "$dir/proc"
trap 'umount "$dir/proc" 2>/dev/null || true' EXIT
chroot "$dir" apt-get update -q >&2
# shellcheck disable=SC2046
DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get install -y -q --no-install-recommends \
    $(grep -v '^#' "$here/packages.txt" | xargs) >&2
chroot "$dir" apt-get clean
rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir/usr/sbin/policy-rc.d"
# The desktop runs as an ordinary user; /shared and /storage are mounted by the VM's container.
chroot "$dir" useradd --create-home --uid 1000 --shell /bin/bash desktop
mkdir -p "$dir/shared" "$dir/storage"
chown 1000:1000 "$dir/storage"
