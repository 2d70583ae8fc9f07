#!/bin/sh
# Installs Debian's Chromium for the dashboard's browser tests (tests/integration/
# test_dashboard_browser.py). Idempotent and instant when it is already there. Never fails the
# build: where it cannot install (not root, no apt, offline), those tests skip with the reason.
# Playwright's own browser download (`playwright install`) is never used: it is not reachable here.
set -u
CHROMIUM=/usr/bin/chromium
LOG="${TMPDIR:-/tmp}/ray2-mock-chromium-install.log"

[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" != "0" ]; then
    echo "ensure-chromium: $CHROMIUM missing and not root: browser tests will be skipped" \
        "(sudo apt-get install -y chromium)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: $CHROMIUM missing and no apt-get: browser tests will be skipped"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "ensure-chromium: installing Debian's chromium for the browser tests (log: $LOG)"
if apt-get install -y -q chromium >"$LOG" 2>&1 \
    || { apt-get update -q >>"$LOG" 2>&1 && apt-get install -y -q chromium >>"$LOG" 2>&1; }; then
    echo "ensure-chromium: installed $("$CHROMIUM" --version 2>/dev/null)"
else
    echo "ensure-chromium: apt-get install chromium failed (see $LOG): browser tests will be skipped"
fi
exit 0
