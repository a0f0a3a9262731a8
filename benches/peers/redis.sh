#!/usr/bin/env bash
# Redis peers of issue 13: GEOADD (ingest of positions) and GEOSEARCH (nearest team), measured with
# redis-benchmark against a private redis-server, once with `appendonly yes, appendfsync always`
# (an fsync before each reply, as Crest's acknowledged durable ingest) and once without persistence.
#
#   benches/peers/redis.sh [--seconds N]      (default 10 seconds per measurement)
#
# The server runs pinned to CPU 0, redis-benchmark to CPU 1 (the suite's convention). One JSON line
# per measurement on stdout; notes on stderr. The data directory is a fresh temporary directory
# under ${TMPDIR:-/tmp} (its file system is printed: it must be a real disk, not tmpfs, for the
# fsync to mean anything), removed at exit. Port: $CREST_PEER_REDIS_PORT, default 6390 (6379 is
# left alone).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
parse_seconds "$@"

port="${CREST_PEER_REDIS_PORT:-6390}"
clients=50
people=100000     # members of the GEOADD key: 100,000 tracked people and boats
teams=10000       # members of the GEOSEARCH key
tick=$(getconf CLK_TCK)
for tool in redis-server redis-benchmark redis-cli taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/crest-peer-redis.XXXXXX")
server_pid=""
stop_server() {
  stop_pid "$server_pid"
  server_pid=""
}
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fstype=$(df -PT "$work" | awk 'NR == 2 { print $2 }')
echo "redis: data in $work ($fstype); $(redis-server --version | cut -d' ' -f1-3); ${seconds}s per case" >&2
if [[ "$fstype" == tmpfs ]]; then
  echo "redis: WARNING $work is on tmpfs: fsync costs nothing there; set TMPDIR to a disk" >&2
fi

cpu_ticks() { # utime + stime of a process (all its threads), in clock ticks
  sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

start_server() { # $1: always | no
  local dir="$work/$1"
  mkdir -p "$dir"
  local persistence=(--appendonly no)
  [[ "$1" == always ]] && persistence=(--appendonly yes --appendfsync always)
  taskset -c 0 redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' \
    --daemonize no --logfile "$dir/redis.log" "${persistence[@]}" &
  server_pid=$!
  for _ in $(seq 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "redis: server on port $port did not start; log:" >&2
  cat "$dir/redis.log" >&2 || true
  exit 1
}

bench() { # requests pipeline range command...; prints "rps p50_ms p99_ms"
  local n="$1" pipeline="$2" range="$3"
  shift 3
  taskset -c 1 redis-benchmark -p "$port" -c "$clients" -n "$n" -P "$pipeline" -r "$range" --csv "$@" |
    tail -n 1 | tr -d '"' | awk -F, '{ print $2, $5, $7 }'
}

measure() { # fsync case pipeline calibration-requests range command...
  local fsync="$1" case="$2" pipeline="$3" calibration="$4" range="$5"
  shift 5
  # A short run first, as warm-up and to size the measured run to about $seconds seconds
  # (redis-benchmark counts requests, not time).
  local rate n t0 c0 t1 c1 rps p50 p99
  read -r rate _ _ < <(bench "$calibration" "$pipeline" "$range" "$@")
  n=$(awk -v r="$rate" -v s="$seconds" -v p="$pipeline" -v c="$clients" \
    'BEGIN { n = int(r * s); m = c * p * 4; if (n < m) n = m; print n }')
  c0=$(cpu_ticks "$server_pid")
  t0=$(date +%s%N)
  read -r rps p50 p99 < <(bench "$n" "$pipeline" "$range" "$@")
  t1=$(date +%s%N)
  c1=$(cpu_ticks "$server_pid")
  awk -v fsync="$fsync" -v name="$case" -v rps="$rps" -v n="$n" -v dc="$((c1 - c0))" -v tick="$tick" \
    -v clients="$clients" -v pipeline="$pipeline" -v ns="$((t1 - t0))" -v p50="$p50" -v p99="$p99" \
    'BEGIN { printf "{\"peer\":\"redis\",\"case\":\"%s\",\"fsync\":\"%s\",\"ops_per_s\":%.0f,\"server_cpu_us_per_op\":%.2f,\"clients\":%d,\"pipeline\":%d,\"seconds\":%.2f,\"requests\":%d,\"p50_ms\":%s,\"p99_ms\":%s}\n",
      name, fsync, rps, dc * 1e6 / tick / n, clients, pipeline, ns / 1e9, n, p50, p99 }'
  echo "redis: $case fsync=$fsync done" >&2
}

# 10,000 teams in a 1 x 1 degree box (about 111 x 111 km: one team per 1.2 km2), loaded in one go.
load_teams() {
  awk -v n="$teams" 'BEGIN {
    srand(13)
    for (i = 0; i < n; i += 1000) {
      line = "GEOADD teams"
      for (j = i; j < i + 1000 && j < n; j++) line = line sprintf(" %.6f %.6f t:%d", rand(), rand(), j)
      print line
    }
  }' | redis-cli -p "$port" >/dev/null
  local count
  count=$(redis-cli -p "$port" zcard teams)
  [[ "$count" == "$teams" ]] || { echo "redis: loaded $count teams, wanted $teams" >&2; exit 1; }
}

for fsync in always no; do
  start_server "$fsync"
  # Positions: __rand_int__ expands to 12 digits (leading zeros), each occurrence its own draw;
  # with -r 100000, "__rand_int__e-4" is a coordinate in [0, 10) degrees and p:__rand_int__ one of
  # 100,000 people, so most commands move a member that already exists, as position updates do.
  measure "$fsync" geoadd_p32 32 200000 "$people" GEOADD people __rand_int__e-4 __rand_int__e-4 p:__rand_int__
  measure "$fsync" geoadd_p1 1 20000 "$people" GEOADD people __rand_int__e-4 __rand_int__e-4 p:__rand_int__
  load_teams
  # Nearest 5 teams to a random point of the box ("__rand_int__e-4" with -r 10000: [0, 1) degrees);
  # a 5 km radius holds about 60 teams. No capability or availability filter: Redis has none.
  measure "$fsync" geosearch_knn5 1 10000 10000 \
    GEOSEARCH teams FROMLONLAT __rand_int__e-4 __rand_int__e-4 BYRADIUS 5 km ASC COUNT 5
  stop_server
done
