#!/usr/bin/env bash
# Smoke check of both fan-out peers: starts the uWebSockets.js relay (uws/start.sh) and the
# tokio-tungstenite relay (benches/relay.rs, built with `cargo bench --no-run`), each pinned to
# CPU 0, and runs uws/check.mjs (Node 20's built-in WebSocket client) against each. No timing
# assertion. Ports: $CREST_PEER_UWS_PORT (6401), $CREST_PEER_RUST_PORT (6402).
# Cargo's target directory: $CARGO_TARGET_DIR as usual; $CREST_PEER_RELAY_BIN, when set, is a
# relay binary already built, and cargo is not run.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
uws_port="${CREST_PEER_UWS_PORT:-6401}"
rust_port="${CREST_PEER_RUST_PORT:-6402}"
work=$(mktemp -d "${TMPDIR:-/tmp}/crest-peer-check.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_listening() { # name pid output-file
  for _ in $(seq 300); do
    grep -q '^listening ' "$3" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "check: the $1 relay did not start:" >&2
  cat "$3" "$3.err" >&2 || true
  exit 1
}

# The relay binary, built if needed (the `bench` profile: optimised, as `cargo build --release`).
exe="${CREST_PEER_RELAY_BIN:-}"
if [[ -z "$exe" ]]; then
  exe=$(cd "$here/../.." && cargo bench --bench relay --no-run --message-format=json 2>"$work/cargo.err" |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
fi
[[ -x "$exe" ]] || { cat "$work/cargo.err" >&2; echo "check: no relay binary" >&2; exit 1; }

"$here/uws/start.sh" "$uws_port" >"$work/uws.out" 2>"$work/uws.out.err" &
pids+=($!)
wait_listening uWebSockets.js "${pids[-1]}" "$work/uws.out"
taskset -c 0 "$exe" "$rust_port" >"$work/rust.out" 2>"$work/rust.out.err" &
pids+=($!)
wait_listening tokio-tungstenite "${pids[-1]}" "$work/rust.out"

status=0
for port in "$uws_port" "$rust_port"; do
  node --experimental-websocket --no-warnings "$here/uws/check.mjs" "$port" || status=1
done
exit "$status"
