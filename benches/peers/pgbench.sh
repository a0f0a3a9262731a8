#!/usr/bin/env bash
# PostgreSQL peer of issue 13: "nearest available team with a capability" as a GiST KNN query,
# driven by pgbench with 50 clients.
#
#   benches/peers/pgbench.sh [--seconds N]      (default 10)
#
# Builds 10,000 teams (id, status, capabilities text[], position point with a GiST index) in a
# schema of its own, crest_peer_bench, in the shared server's database `test`, and drops it at the
# end. PostGIS is not installed on the shared server, so positions are the built-in `point` type and
# the query orders by `position <-> point(x, y)`: a real GiST KNN scan (planar distance; the teams
# sit in a 1 x 1 degree box, as in redis.sh).
#
# pgbench runs on CPU 1. The shared server is not restarted or pinned as a whole: the 50 backends
# of this run are pinned to CPU 0 (`taskset -cp 0`) as soon as they connect (root or the postgres
# user needed; skipped with a note otherwise). Server CPU = every postgres process over the run:
# the live ones (utime + stime from /proc) plus the postmaster's reaped children (cutime + cstime),
# so it also counts whatever other clients of the shared server did meanwhile (noted on stderr).
# Connection: $PGHOST (127.0.0.1), $PGPORT (5432), $PGUSER (postgres), $PGDATABASE (test).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
parse_seconds "$@"

export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
export PGDATABASE="${PGDATABASE:-test}"
clients=50
teams=10000
app=crest_peer_bench
tick=$(getconf CLK_TCK)
psql_q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/crest-peer-pg.XXXXXX")
bench_pid=""
cleanup() {
  stop_pid "$bench_pid"
  psql_q -c "DROP SCHEMA IF EXISTS crest_peer_bench CASCADE" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The postmaster: from postmaster.pid when readable, else the server process of our own backend.
postmaster=""
datadir=$(psql_q -c "SHOW data_directory" 2>/dev/null || true)
if [[ -r "$datadir/postmaster.pid" ]]; then
  postmaster=$(head -n 1 "$datadir/postmaster.pid")
fi
if [[ -z "$postmaster" || ! -r "/proc/$postmaster/stat" ]]; then
  echo "pgbench: cannot find the postmaster's pid (server not local?): no CPU figure" >&2
  postmaster=""
fi

server_ticks() { # all postgres processes: postmaster (own + reaped children) + live children
  [[ -n "$postmaster" ]] || { echo 0; return; }
  # One awk over every /proc/PID/stat (fields counted after the "(comm)" field, which may hold spaces).
  awk -v pm="$postmaster" '
    { sub(/^.*\) /, ""); split($0, f, " ")
      if (FILENAME == "/proc/" pm "/stat") t += f[12] + f[13] + f[14] + f[15]
      else if (f[2] == pm) t += f[12] + f[13] }
    END { print t + 0 }' /proc/[0-9]*/stat 2>/dev/null
}
others() { psql_q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name <> '$app' AND pid <> pg_backend_pid()"; }

echo "pgbench: $(psql_q -c 'SELECT version()' | cut -d' ' -f1-2), postmaster pid ${postmaster:-?}; ${seconds}s" >&2
psql_q >/dev/null <<SQL
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS crest_peer_bench CASCADE;
CREATE SCHEMA crest_peer_bench;
CREATE TABLE crest_peer_bench.teams (
  id integer PRIMARY KEY,
  status text NOT NULL,
  capabilities text[] NOT NULL,
  position point NOT NULL
);
SELECT setseed(0.13);
INSERT INTO crest_peer_bench.teams
SELECT i,
       CASE WHEN random() < 0.6 THEN 'available' ELSE 'busy' END,
       ARRAY(SELECT c FROM unnest(ARRAY['boat', 'medical', 'rescue', 'truck', 'drone']) AS c
             WHERE random() < 0.4 OR c = (ARRAY['boat', 'medical', 'rescue', 'truck', 'drone'])[1 + i % 5]),
       point(random(), random())
FROM generate_series(0, $teams - 1) AS i;
CREATE INDEX teams_position ON crest_peer_bench.teams USING gist (position);
ANALYZE crest_peer_bench.teams;
SQL

cat > "$work/knn.sql" <<'SQL'
\set x random(0, 999999)
\set y random(0, 999999)
\set c random(1, 5)
SELECT id FROM crest_peer_bench.teams
WHERE status = 'available' AND capabilities @> ARRAY[(ARRAY['boat', 'medical', 'rescue', 'truck', 'drone'])[:c]]
ORDER BY position <-> point(:x / 1000000.0, :y / 1000000.0)
LIMIT 5;
SQL
plan=$(psql_q -c "EXPLAIN SELECT id FROM crest_peer_bench.teams WHERE status = 'available' AND capabilities @> ARRAY['boat'] ORDER BY position <-> point(0.5, 0.5) LIMIT 5")
grep -q "Index Scan using teams_position" <<<"$plan" || { echo "pgbench: the plan is not a GiST KNN scan:" >&2; echo "$plan" >&2; exit 1; }

run() { # seconds output-file: pgbench in the background, our backends pinned to CPU 0 when they
  # connect (how many: output-file.pinned); once all are connected, the server's CPU ticks and
  # the time go to output-file.start
  # (so the cost of forking 50 backends is left out, as pgbench's tps leaves out connection time).
  # -l: one log line per transaction with its completion time, to count those in the window.
  PGAPPNAME=$app taskset -c 1 pgbench -n -M prepared -c "$clients" -j 1 -T "$1" -f "$work/knn.sql" \
    -l --log-prefix="$2.tx" >"$2" 2>"$2.err" &
  bench_pid=$!
  local pinned=0 pids=""
  for _ in $(seq 300); do
    pids=$(psql_q -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$app'")
    if [[ $(wc -w <<<"$pids") -ge "$clients" ]]; then
      for pid in $pids; do
        taskset -cp 0 "$pid" >/dev/null 2>&1 && pinned=$((pinned + 1))
      done
      echo "$(server_ticks) $(date +%s%N)" >"$2.start"
      break
    fi
    kill -0 "$bench_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! wait "$bench_pid"; then
    bench_pid=""
    echo "pgbench failed:" >&2
    cat "$2.err" >&2
    exit 1
  fi
  bench_pid=""
  # Until our backends have exited and been reaped (/proc/PID gone): their CPU is then in the
  # postmaster's cutime + cstime, and not counted again in the next run's window.
  for _ in $(seq 100); do
    local alive=0
    for pid in $pids; do
      [[ -e /proc/$pid ]] && alive=1
    done
    [[ $alive == 0 ]] && break
    sleep 0.1
  done
  echo "$pinned" >"$2.pinned"
}

# Warm-up (not measured): caches, plans, and how long 50 clients take to connect on this machine.
run 3 "$work/warmup.out"
connect_ms=$(awk '/^initial connection time = / { print int($5) }' "$work/warmup.out")
busy=$(others)
# pgbench's -T includes connecting: run long enough that the window after it lasts ~$seconds.
run "$((seconds + connect_ms / 1000 + 3))" "$work/run.out"
pinned=$(cat "$work/run.out.pinned")
[[ -s "$work/run.out.start" ]] || { echo "pgbench: the $clients clients never all connected" >&2; exit 1; }
read -r c0 t0 <"$work/run.out.start"
c1=$(server_ticks)
echo "pgbench: $pinned of $clients backends pinned to CPU 0; other client backends on the server: $busy before, $(others) after; warm-up connections took ${connect_ms} ms" >&2
# Transactions completed in the window (from all connected to the end), from the log's epoch
# seconds and microseconds (fields 5 and 6).
read -r done_tx window_s < <(cat "$work"/run.out.tx.* | awk -v t0="$t0" '
  { t = $5 * 1e6 + $6; if (t * 1000 >= t0) { n++; if (t > last) last = t } }
  END { printf "%d %.3f\n", n, n ? (last - t0 / 1000) / 1e6 : 0 }')
[[ "$done_tx" -gt 0 ]] || { echo "pgbench: no transaction in the window" >&2; exit 1; }
latency=$(awk '/^latency average = / { print $4 }' "$work/run.out")
awk -v n="$done_tx" -v w="$window_s" -v dc="$((c1 - c0))" -v tick="$tick" -v clients="$clients" \
  -v lat="$latency" -v pinned="$pinned" -v known="${postmaster:+1}" \
  'BEGIN { cpu = known ? sprintf("%.2f", dc * 1e6 / tick / n) : "null"
    printf "{\"peer\":\"postgres\",\"case\":\"knn_capability\",\"ops_per_s\":%.0f,\"server_cpu_us_per_op\":%s,\"clients\":%d,\"pipeline\":1,\"seconds\":%.2f,\"server_cpu_s\":%.2f,\"requests\":%d,\"latency_avg_ms\":%s,\"backends_pinned\":%d}\n",
      n / w, cpu, clients, w, dc / tick, n, lat, pinned }'
