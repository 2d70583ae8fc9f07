#!/bin/sh
# Makes a local base image for the ray2-mock image where no registry is reachable: a minimal
# Debian bookworm root filesystem with Python 3.11 (mmdebstrap, from Debian's mirror), imported
# into podman. Docs, man pages and locales are left out. About 30 s; skipped when the image
# exists. The image tag is printed on the last line.
#   BASE_IMAGE  tag to make (default localhost/ray2-mock-base:bookworm)
set -eu
BASE_IMAGE="${BASE_IMAGE:-localhost/ray2-mock-base:bookworm}"
if podman image exists "$BASE_IMAGE"; then
    echo "$BASE_IMAGE"
    exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    bookworm "$work/rootfs.tar"
podman import --quiet "$work/rootfs.tar" "$BASE_IMAGE" >/dev/null
echo "$BASE_IMAGE"
