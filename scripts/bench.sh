#!/usr/bin/env bash
# Benchmark (not a test). Two modes:
#
#   scripts/bench.sh               Gregor (a 1-broker cluster) beside the floor, in the same run
#   scripts/bench.sh replication   scripts/bench-replication.sh: acks=all throughput at RF3 vs RF1
#
# The default mode runs one franz-go load generator (cmd/gregor-loadgen) against a 1-broker Gregor
# (scripts/cluster.sh up 1) and against the floor (cmd/gregor-floor, internal/benchfloor: framing
# only — produce appends the bytes to a file with one write, fetch sendfiles them, nothing is
# validated), REPEAT times each, alternating, and prints for every workload the median broker CPU
# seconds (its threads' run time from /proc/PID/task/*/schedstat, else utime + stime from
# /proc/PID/stat, read before and after the run), the median
# records/s, and Gregor's ratio to the floor. On a 2-core machine the client saturates first, so
# the broker's CPU is the figure that shows its own cost. Workloads:
#
#   produce N_SMALL x 100 B, acks=1             consume those N_SMALL records
#   produce N_LARGE x 1 KiB, idempotent acks=all
#   end to end at E2E_RATE records/s for E2E_SECONDS (p99 of send -> receive)
#
# Environment (defaults): REPEAT=3 N_SMALL=1000000 N_LARGE=200000 E2E_RATE=5000 E2E_SECONDS=10
# PARTITIONS=3 FLOOR_PORT=9192 PAGECACHE=steady|fresh (scripts/pagecache.sh: steady, the default
# as root, runs Gregor and the floor each in a memory cgroup whose page cache is filled first, so
# their writes reuse pages as on a host whose cache is full, not take new ones from the host). A quick run: REPEAT=1 N_SMALL=100000 N_LARGE=20000 E2E_SECONDS=2.
# Ports 2181, 9092 and FLOOR_PORT must be free, or set GREGOR_ZK_PORT and GREGOR_BROKER_PORT
# (scripts/cluster.sh) to others.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "replication" ]; then
  shift
  exec scripts/bench-replication.sh "$@"
fi
REPEAT="${REPEAT:-3}"
N_SMALL="${N_SMALL:-1000000}"
N_LARGE="${N_LARGE:-200000}"
E2E_RATE="${E2E_RATE:-5000}"
E2E_SECONDS="${E2E_SECONDS:-10}"
PARTITIONS="${PARTITIONS:-3}"
FLOOR_PORT="${FLOOR_PORT:-9192}"

WORK="$(mktemp -d)"
export GREGOR_CLUSTER_DIR="$WORK/cluster"
FLOOR_PID=
cleanup() {
  [ -n "$FLOOR_PID" ] && kill "$FLOOR_PID" 2>/dev/null && wait "$FLOOR_PID" 2>/dev/null
  scripts/cluster.sh down >/dev/null 2>&1 || true
  pagecache_cleanup
  rm -rf "$WORK"
}
. scripts/pagecache.sh
pagecache_init
trap cleanup EXIT
go build -o bin/gregor ./cmd/gregor
go build -o "$WORK/gregor-loadgen" ./cmd/gregor-loadgen
go build -o "$WORK/gregor-floor" ./cmd/gregor-floor
LOADGEN="$WORK/gregor-loadgen"

scripts/cluster.sh up 1 >/dev/null
GREGOR=127.0.0.1:${GREGOR_BROKER_PORT:-9092}
GREGOR_PID=$(cat "$GREGOR_CLUSTER_DIR/broker-1/pid")
"$WORK/gregor-floor" -listen "127.0.0.1:$FLOOR_PORT" -dir "$WORK/floor" -partitions "$PARTITIONS" >"$WORK/floor.log" 2>&1 &
FLOOR_PID=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$FLOOR_PORT") 2>/dev/null && break
  sleep 0.1
done
FLOOR="127.0.0.1:$FLOOR_PORT"
pagecache_confine gregor "$GREGOR_PID" "$GREGOR_CLUSTER_DIR/broker-1"
pagecache_confine floor "$FLOOR_PID" "$WORK"
. scripts/proc-cpu.sh # cpu PID

RESULTS="$WORK/results"
: >"$RESULTS"
# measure TARGET REP WORKLOAD loadgen-args...: one run, its broker CPU and the loadgen's figures.
measure() {
  local target=$1 rep=$2 workload=$3 addr pid c0 c1 out
  shift 3
  if [ "$target" = gregor ]; then addr=$GREGOR pid=$GREGOR_PID; else addr=$FLOOR pid=$FLOOR_PID; fi
  sync # every run starts with no dirty pages: the last run's writeback is not this one's cost
  c0=$(cpu "$pid")
  out=$("$LOADGEN" "$@" -bootstrap "$addr")
  c1=$(cpu "$pid")
  echo "$target $rep $workload cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.4f", b - a }') $out" | tee -a "$RESULTS"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "page cache: $(pagecache_mode)"
echo "workloads: produce ${N_SMALL} x 100 B acks=1, consume them, produce ${N_LARGE} x 1 KiB idempotent acks=all, e2e ${E2E_RATE}/s for ${E2E_SECONDS}s; ${PARTITIONS} partitions; ${REPEAT} repetitions"
# Each workload runs on Gregor and on the floor back to back (which goes first alternates by
# repetition), so the two runs of a pair share the machine's load: on a shared VM the CPU seconds
# of one process move with its neighbours, and the ratio of a pair moves far less than either.
for rep in $(seq 1 "$REPEAT"); do
  order="gregor floor"
  [ $((rep % 2)) -eq 0 ] && order="floor gregor"
  t="b$rep-$RANDOM"
  for topic in "$t-small" "$t-large" "$t-e2e"; do
    "$LOADGEN" create -bootstrap "$GREGOR" -topic "$topic" -partitions "$PARTITIONS"
  done # the floor has every topic already
  for target in $order; do measure "$target" "$rep" produce-100B-acks1 produce -topic "$t-small" -records "$N_SMALL" -size 100 -acks 1; done
  for target in $order; do measure "$target" "$rep" consume-100B consume -topic "$t-small" -records "$N_SMALL"; done
  for target in $order; do measure "$target" "$rep" produce-1KiB-idempotent-acksall produce -topic "$t-large" -records "$N_LARGE" -size 1024 -acks all; done
  for target in $order; do measure "$target" "$rep" e2e-${E2E_RATE}/s e2e -topic "$t-e2e" -rate "$E2E_RATE" -duration "${E2E_SECONDS}s" -size 100; done
done

echo
echo "medians of $REPEAT; ratio = gregor / floor as the median of the per-repetition ratios (each pair ran back to back); CPU: lower is better, records/s: higher is better"
awk '
  function kv(s, k,   i, n, a) { n = split(s, a, " "); for (i = 1; i <= n; i++) if (index(a[i], k "=") == 1) return substr(a[i], length(k) + 2); return "" }
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  {
    key = $1 SUBSEP $3; pair = $3 SUBSEP $2
    c = kv($0, "cpu"); r = kv($0, "records_per_s"); p = kv($0, "p99_ms")
    cpu[key] = cpu[key] " " c; rate[key] = rate[key] " " r
    if (p != "") p99[key] = p99[key] " " p
    pc[$1, pair] = c; pr[$1, pair] = r; pp[$1, pair] = p
    if (!(pair in pairs)) { pairs[pair] = 1; reps[$3] = reps[$3] " " $2 }
    if (!($3 in seen)) { seen[$3] = 1; order[++nw] = $3 }
  }
  END {
    printf "%-32s %9s %9s %6s %11s %11s %6s %9s %9s %6s\n", "workload", "gregor CPU", "floor CPU", "ratio", "gregor rec/s", "floor rec/s", "ratio", "gregor p99", "floor p99", "ratio"
    for (i = 1; i <= nw; i++) {
      w = order[i]; g = "gregor" SUBSEP w; f = "floor" SUBSEP w
      n = split(reps[w], rs, " "); cr = ""; rr = ""; prr = ""
      for (j = 1; j <= n; j++) {
        k = w SUBSEP rs[j]
        if (pc["floor", k] > 0) cr = cr " " pc["gregor", k] / pc["floor", k]
        if (pr["floor", k] > 0) rr = rr " " pr["gregor", k] / pr["floor", k]
        if (pp["floor", k] > 0) prr = prr " " pp["gregor", k] / pp["floor", k]
      }
      gp = (g in p99) ? median(p99[g]) "ms" : "-"; fp = (f in p99) ? median(p99[f]) "ms" : "-"
      printf "%-32s %9.3fs %8.3fs %5.2fx %11.0f %11.0f %5.2fx %9s %9s %5s\n", w, median(cpu[g]), median(cpu[f]), (cr == "" ? 0 : median(cr)),
        median(rate[g]), median(rate[f]), (rr == "" ? 0 : median(rr)), gp, fp, (prr == "" ? "-" : sprintf("%.2fx", median(prr)))
    }
  }' "$RESULTS"
