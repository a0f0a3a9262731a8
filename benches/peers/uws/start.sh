#!/usr/bin/env bash
# Start the uWebSockets.js relay on PORT pinned to CPU 0 (the measured-server core of the suite).
# Installs the locked dependencies first when node_modules is missing. Prints `listening PORT`.
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 PORT" >&2
  exit 2
fi
cd "$(dirname "$0")"
if [[ ! -d node_modules ]]; then
  npm ci --omit=dev --no-audit --no-fund >&2
fi
exec taskset -c 0 node relay.js "$1"
