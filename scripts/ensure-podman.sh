#!/bin/sh
# Installs what the container tests need (tests/container/): Debian's podman with the runc
# runtime and its networking, and mmdebstrap, which makes the local base image registries
# cannot provide here (scripts/base-image.sh). Idempotent and instant when all is there.
# Never fails the build: where it cannot install (not root, no apt, offline), the container
# tests skip with the reason (and fail under CI=true).
set -u
PACKAGES="podman runc mmdebstrap containernetworking-plugins conmon iptables"
LOG="${TMPDIR:-/tmp}/ray2-mock-podman-install.log"

missing=""
for tool in podman runc mmdebstrap conmon iptables; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/bin/$tool" ] || [ -x "/usr/sbin/$tool" ] \
        || missing="$missing $tool"
done
[ -d /usr/lib/cni ] || missing="$missing containernetworking-plugins"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-podman: missing:$missing; not root or no apt-get: container tests will be skipped" \
        "(sudo apt-get install -y $PACKAGES)"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "ensure-podman: installing$missing for the container tests (log: $LOG)"
if apt-get install -y -q --no-install-recommends $PACKAGES >"$LOG" 2>&1 \
    || { apt-get update -q >>"$LOG" 2>&1 \
        && apt-get install -y -q --no-install-recommends $PACKAGES >>"$LOG" 2>&1; }; then
    echo "ensure-podman: installed $(podman --version 2>/dev/null)"
else
    echo "ensure-podman: apt-get install failed (see $LOG): container tests will be skipped"
fi
exit 0
