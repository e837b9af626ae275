#!/usr/bin/env bash
# A root file system for Pantheon's service images: a minimal Debian bookworm from the mirror this machine's apt sources
# name, plus the packages of each list given. Usage: rootfs.sh DIR MIRROR [BASE_TAR] PACKAGES_FILE...
# With BASE_TAR (a tarball an earlier run made) the root starts from it instead of debootstrap.
# Runs as root; leaves DIR ready for `tar -C DIR -c . | docker import`.
set -euo pipefail
dir=$1 mirror=$2; shift 2
if [ "${1:-}" != "" ] && [ "${1%.tar}" != "$1" ]; then
    mkdir -p "$dir"; tar -C "$dir" -xf "$1"; shift
else
    debootstrap --variant=minbase bookworm "$dir" "$mirror" >&2
    # The security suite too, as the machine's own sources have it.
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s-security bookworm-security main\n' \
        "$mirror" "$mirror" "$mirror" >"$dir/etc/apt/sources.list"
fi
packages=$(cat "$@" /dev/null | grep -v '^#' | xargs || true)
[ -n "$packages" ] || exit 0
printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"; chmod +x "$dir/usr/sbin/policy-rc.d"
mount -t proc proc "$dir/proc"
trap 'umount "$dir/proc" 2>/dev/null || true' EXIT
cp /etc/resolv.conf "$dir/etc/resolv.conf"
chroot "$dir" apt-get update -q >&2
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get install -y -q --no-install-recommends $packages >&2
chroot "$dir" apt-get clean
rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir/usr/sbin/policy-rc.d" "$dir"/usr/share/doc/* \
    "$dir"/usr/share/man/* "$dir"/usr/share/info/*
: >"$dir/etc/resolv.conf"
