#!/usr/bin/env bash
# Benchmark (not a test): the cost of replication. In one run, on one 3-broker cluster, produce
# with acks=all (franz-go, idempotent) to a topic of replication factor 1 led by broker 1, then to
# one of replication factor 3 led by broker 1 (followers 2 and 3), and print records/s of each
# and their ratio. Kafka's own figure for 3x synchronous replication is 0.51x its unreplicated
# throughput; our goal is >= 0.5x.
#
#   scripts/bench-replication.sh [REPEAT]   REPEAT runs of each workload (default 3), medians
#
# PAGECACHE=steady|fresh (scripts/pagecache.sh): steady, the default where it can be had (root),
# runs each broker in a memory cgroup whose page cache is filled before the runs, as on a broker
# host whose cache is full; fresh lets every write take a new page, which a fresh VM gets from
# its host at a tenth of the speed, once per replica.
#
# Ports 2181 and 9092-9094 must be free (scripts/cluster.sh starts the cluster in a temp dir), or
# set GREGOR_ZK_PORT, GREGOR_BROKER_PORT and GREGOR_METRICS_PORT (scripts/cluster.sh) to others.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT="${1:-3}"
go build -o bin/gregor ./cmd/gregor
export GREGOR_CLUSTER_DIR="$(mktemp -d)"
. scripts/pagecache.sh
pagecache_init
trap 'scripts/cluster.sh down >/dev/null; pagecache_cleanup; rm -rf "$GREGOR_CLUSTER_DIR"' EXIT
scripts/cluster.sh up 3 >/dev/null
for id in 1 2 3; do
  pagecache_confine "broker-$id" "$(cat "$GREGOR_CLUSTER_DIR/broker-$id/pid")" "$GREGOR_CLUSTER_DIR/broker-$id"
done
P="${GREGOR_BROKER_PORT:-9092}"
B=127.0.0.1:$P,127.0.0.1:$((P + 1)),127.0.0.1:$((P + 2))

. scripts/proc-cpu.sh # cpu PID
BROKER_PIDS=$(cat "$GREGOR_CLUSTER_DIR"/broker-*/pid)
brokers_cpu() { for p in $BROKER_PIDS; do cpu "$p"; echo; done | awk '{ s += $1 } END { printf "%.3f", s }'; }

# rate TOPIC N SIZE: "records/s broker-CPU-s client-CPU-s" of one acks=all produce run; the
# broker figure is the three brokers' CPU together, the client's is user + system time.
rate() {
  local c0 c1 out client
  sync # every run starts with no dirty pages: the last run's writeback is not this one's cost
  c0=$(brokers_cpu)
  out=$( { TIMEFORMAT='client %U %S'; time bin/gregor perf produce --bootstrap-server "$B" --topic "$1" \
    --records "$2" --size "$3" --acks all; } 2>&1)
  c1=$(brokers_cpu)
  client=$(awk '/^client / { print $2 + $3 }' <<<"$out")
  awk -v c0="$c0" -v c1="$c1" -v cl="$client" '/records\/s/ {
    for (i = 1; i <= NF; i++) if ($(i+1) == "records/s,") printf "%s %.3f %.3f\n", $i, c1 - c0, cl }' <<<"$out"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3)"
echo "page cache: $(pagecache_mode)"
for w in "1M x 100 B:1000000:100" "200k x 1 KiB:200000:1024"; do
  IFS=: read -r name n size <<<"$w"
  r1=(); r3=()
  for i in $(seq 1 "$REPEAT"); do
    t1="rf1-$RANDOM"; t3="rf3-$RANDOM"
    bin/gregor topics create --bootstrap-server "$B" --topic "$t1" --replica-assignment 1 >/dev/null
    bin/gregor topics create --bootstrap-server "$B" --topic "$t3" --replica-assignment 1:2:3 >/dev/null
    r1+=("$(rate "$t1" "$n" "$size")")
    r3+=("$(rate "$t3" "$n" "$size")")
  done
  col() { printf '%s\n' "$@" | awk -v k="$COL" '{ print $k }' | median; }
  COL=1; m1=$(col "${r1[@]}"); m3=$(col "${r3[@]}")
  COL=2; b1=$(col "${r1[@]}"); b3=$(col "${r3[@]}")
  COL=3; k1=$(col "${r1[@]}"); k3=$(col "${r3[@]}")
  awk -v name="$name" -v a="$m1" -v b="$m3" -v runs="$REPEAT" -v b1="$b1" -v b3="$b3" -v k1="$k1" -v k3="$k3" 'BEGIN {
    printf "%s, acks=all: RF 1 %.0f records/s, RF 3 %.0f records/s: %.2fx (median of %d)\n", name, a, b, b / a, runs
    printf "  CPU seconds: brokers RF 1 %.2f, RF 3 %.2f (%.1fx); client RF 1 %.2f, RF 3 %.2f\n", b1, b3, b3 / b1, k1, k3 }'
done
