#!/usr/bin/env bash
# Debian packages some tests need (nginx: the TLS proxy in front of the dev server;
# chromium: the browser tests of the chat page). Idempotent and instant when present;
# skipped (tests that need them skip with a reason) when not root or without apt-get.
set -euo pipefail
want=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || want+=(nginx)
[ -x /usr/bin/chromium ] || want+=(chromium)
if [ ${#want[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "==> not installing ${want[*]} (needs root and apt-get); their tests will skip" >&2
  exit 0
fi
echo "==> installing system packages: ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
