#!/bin/sh
# Builds the ray2-mock image (`make image`): wheels on the host, then an offline image build.
#   IMAGE       tag to build (default ray2-mock:latest)
#   IMAGE_BASE  base image (default: the Containerfile's python:3.11-slim-bookworm)
#   ENGINE      podman or docker (default: podman when installed, else docker)
#   PYTHON      the Python that prepares the wheels (default .venv/bin/python)
set -eu
cd "$(dirname "$0")/.."
IMAGE="${IMAGE:-ray2-mock:latest}"
PYTHON="${PYTHON:-.venv/bin/python}"
ENGINE="${ENGINE:-$(command -v podman >/dev/null 2>&1 && echo podman || echo docker)}"

rm -rf build/wheels
"$PYTHON" -m pip wheel --quiet --wheel-dir build/wheels/deps .
# redis-py needs async-timeout on Pythons before 3.11.3, such as Debian bookworm's 3.11.2 in
# the base image; a newer Python here leaves it out of the resolution, so add it by name.
"$PYTHON" -m pip wheel --quiet --wheel-dir build/wheels/deps 'async-timeout>=4.0.3'
mkdir -p build/wheels/app
mv build/wheels/deps/ray2_mock-*.whl build/wheels/app/

set -- --network none --tag "$IMAGE" --file Containerfile
[ -n "${IMAGE_BASE:-}" ] && set -- "$@" --build-arg "BASE=$IMAGE_BASE"
# podman's default OCI format drops HEALTHCHECK; the docker format keeps it.
[ "$ENGINE" = podman ] && set -- "$@" --format docker
exec "$ENGINE" build "$@" .
