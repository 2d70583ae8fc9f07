#!/bin/sh
# Installs Debian's redis-server for the Redis store's tests (tests/redis/): they start and
# stop servers of their own on free ports, so the package's own service is never used.
# Idempotent and instant when it is already there. Never fails the build: where it cannot
# install (not root, no apt, offline), those tests skip with the reason (and fail under CI=true).
set -u
LOG="${TMPDIR:-/tmp}/ray2-mock-redis-install.log"

command -v redis-server >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-redis: redis-server missing; not root or no apt-get: Redis store tests will be" \
        "skipped (sudo apt-get install -y redis-server)"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "ensure-redis: installing Debian's redis-server for the Redis store tests (log: $LOG)"
if apt-get install -y -q --no-install-recommends redis-server >"$LOG" 2>&1 \
    || { apt-get update -q >>"$LOG" 2>&1 \
        && apt-get install -y -q --no-install-recommends redis-server >>"$LOG" 2>&1; }; then
    echo "ensure-redis: installed $(redis-server --version 2>/dev/null)"
else
    echo "ensure-redis: apt-get install redis-server failed (see $LOG): Redis store tests will be skipped"
fi
exit 0
