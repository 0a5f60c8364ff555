#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (a test tool's own browser download cannot work offline).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing: install it with 'sudo apt-get install chromium' (needed by the browser tests)" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
