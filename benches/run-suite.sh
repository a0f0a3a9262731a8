#!/usr/bin/env bash
# The performance suite of issue 13, peers and Crest interleaved in one run, 3 repetitions, medians.
#
#   benches/run-suite.sh OUT.jsonl [--after BIN] [--before BIN] [--reps N] [--seconds N]
#                                  [--db postgres://…] [--nodes N] [--scenarios "ingest32 …"]
#
# Every repetition runs, in this order: the Crest scenarios with each crest binary (`--before`,
# then `--after`, default this build's release binary), the uWebSockets.js relay and the
# tokio-tungstenite relay (fan-out scenarios `district`, `viewport`, `idle`), then the Redis and
# pgbench peers (`benches/peers/redis.sh`, `benches/peers/pgbench.sh`, when present). Every server
# or relay is pinned to CPU 0, the load generator to CPU 1. Each figure is one JSON object per line
# in OUT.jsonl (field `rep` added); at the end the medians over the repetitions are printed, grouped
# by every non-numeric field but the date (python3).
#
# Needs: `cargo build --release --locked --bin crest --benches` done (CARGO_TARGET_DIR honoured),
# taskset, node (for the uWebSockets.js relay), redis-server/redis-benchmark, pgbench.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $# -ge 1 ]] || { sed -n 2,16p "$0" >&2; exit 2; }
out="$1"; shift
target_dir="${CARGO_TARGET_DIR:-target}"
after="$target_dir/release/crest"
before=""
reps=3
seconds=10
db_args=()
scenarios="all"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --after) after="$2"; shift 2 ;;
    --before) before="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --db) db_args+=(--db "$2"); shift 2 ;;
    --nodes) db_args+=(--nodes "$2"); shift 2 ;;
    --scenarios) scenarios="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

: > "$out"
tmp="$(mktemp -d)"
relay_pid=""
cleanup() {
  if [[ -n "$relay_pid" ]]; then kill "$relay_pid" 2>/dev/null || true; wait "$relay_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# The executable of bench $1, built (release, like the measured binaries) if it is not yet.
bench_exe() {
  cargo bench --locked --bench "$1" --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$1" | tail -n 1
}

loadgen="$(bench_exe loadgen)"
[[ -x "$loadgen" ]] || { echo "the loadgen bench did not build" >&2; exit 1; }

# Appends the JSON lines of file $2 to $out with "rep": $1.
collect() {
  python3 - "$1" "$2" "$out" <<'PY'
import json, sys
rep, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(src) as f, open(dst, "a") as o:
    for line in f:
        line = line.strip()
        if line.startswith("{"):
            v = json.loads(line); v["rep"] = rep; o.write(json.dumps(v) + "\n")
PY
}

run_loadgen() { # rep, file, args…
  local rep="$1" file="$2"; shift 2
  rm -f "$file"
  "$loadgen" --bench --seconds "$seconds" --json "$file" "$@" || echo "loadgen failed: $*" >&2
  [[ -f "$file" ]] && collect "$rep" "$file"
  return 0
}

# Starts a relay command pinned to CPU 0 on a free port; sets relay_pid and relay_port.
start_relay() {
  relay_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  taskset -c 0 "$@" "$relay_port" > "$tmp/relay.out" 2> "$tmp/relay.err" &
  relay_pid=$!
  for _ in $(seq 1 100); do
    grep -q "listening" "$tmp/relay.out" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "relay did not start: $*" >&2; cat "$tmp/relay.err" >&2
  kill "$relay_pid" 2>/dev/null || true; relay_pid=""
  return 1
}
stop_relay() {
  [[ -n "$relay_pid" ]] || return 0
  kill "$relay_pid" 2>/dev/null || true; wait "$relay_pid" 2>/dev/null || true; relay_pid=""
}

# The tokio-tungstenite relay (benches/relay.rs).
rust_relay="$(bench_exe relay)"

for rep in $(seq 1 "$reps"); do
  echo "=== repetition $rep of $reps" >&2
  # Crest: before, then after.
  for bin_label in ${before:+before:$before} "after:$after"; do
    label="${bin_label%%:*}"; bin="${bin_label#*:}"
    echo "--- crest $label ($bin)" >&2
    # shellcheck disable=SC2086
    run_loadgen "$rep" "$tmp/crest.jsonl" --crest-bin "$bin" --label "$label" "${db_args[@]}" $scenarios
  done
  # HOOK: the uWebSockets.js relay (benches/peers/uws/relay.js, branch `peers`).
  if [[ -f benches/peers/uws/relay.js ]] && command -v node >/dev/null; then
    [[ -d benches/peers/uws/node_modules ]] || (cd benches/peers/uws && npm ci --omit=dev --no-audit --no-fund >&2)
    if start_relay node benches/peers/uws/relay.js; then
      echo "--- uWebSockets.js relay" >&2
      run_loadgen "$rep" "$tmp/uws.jsonl" --target relay --relay-url "ws://127.0.0.1:$relay_port/" \
        --relay-pid "$relay_pid" --label uws district viewport idle
      stop_relay
    fi
  else
    echo "(no benches/peers/uws/relay.js: the uWebSockets.js relay is skipped)" >&2
  fi
  # HOOK: the tokio-tungstenite relay.
  if [[ -n "$rust_relay" ]]; then
    if start_relay "$rust_relay" --bench; then
      echo "--- tokio-tungstenite relay" >&2
      run_loadgen "$rep" "$tmp/tt.jsonl" --target relay --relay-url "ws://127.0.0.1:$relay_port/" \
        --relay-pid "$relay_pid" --label tokio-tungstenite district viewport idle
      stop_relay
    fi
  else
    echo "(no benches/relay.rs: the tokio-tungstenite relay is skipped)" >&2
  fi
  # HOOK: Redis and pgbench peers, each printing JSON lines on stdout.
  for peer in benches/peers/redis.sh benches/peers/pgbench.sh; do
    if [[ -x "$peer" ]]; then
      echo "--- $peer" >&2
      "$peer" --seconds "$seconds" > "$tmp/peer.jsonl" || echo "$peer failed" >&2
      collect "$rep" "$tmp/peer.jsonl"
    else
      echo "(no $peer: skipped)" >&2
    fi
  done
done

echo "=== medians of $reps repetition(s), from $out" >&2
python3 - "$out" <<'PY'
import json, statistics, sys
groups = {}
for line in open(sys.argv[1]):
    v = json.loads(line)
    key = tuple(sorted((k, json.dumps(x)) for k, x in v.items()
                       if not isinstance(x, (int, float)) or isinstance(x, bool)
                       if k not in ("date", "machine", "rep", "relay_url")))
    groups.setdefault(key, []).append(v)
cols = ["rate_per_s", "ops_per_s", "p50_ms", "p99_ms", "p999_ms", "server_cpu_us_per_op",
        "server_cpu_s_per_million", "kib_per_connection", "ratio_to_plain", "lost", "coalesced"]
print("%-40s %s" % ("what", " ".join("%14s" % c[:14] for c in cols)))
for key, vs in groups.items():
    d = dict(key)
    name = " ".join(json.loads(d[k]) for k in ("label", "peer", "case", "fsync", "scenario", "store")
                    if k in d and json.loads(d[k]) is not None)
    cells = []
    for c in cols:
        xs = [v[c] for v in vs if isinstance(v.get(c), (int, float))]
        cells.append("%14.2f" % statistics.median(xs) if xs else "%14s" % "-")
    print("%-40s %s" % (name[:40], " ".join(cells)))
PY
