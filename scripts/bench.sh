#!/usr/bin/env bash
# Benchmark (not a test): produce and consume throughput against a 1-broker cluster, with the
# broker process's CPU seconds for each run. On a 2-core machine the client saturates first, so
# the broker's CPU per record is the figure that shows its own cost.
#
#   scripts/bench.sh            starts a 1-broker cluster in a temp dir (port 2181/9092 must be free)
#   BOOTSTRAP=h:p BROKER_PID=n scripts/bench.sh   uses a running broker instead
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/gregor ./cmd/gregor

if [ -z "${BOOTSTRAP:-}" ]; then
  export GREGOR_CLUSTER_DIR="$(mktemp -d)"
  trap 'scripts/cluster.sh down >/dev/null; rm -rf "$GREGOR_CLUSTER_DIR"' EXIT
  scripts/cluster.sh up 1 >/dev/null
  BOOTSTRAP=127.0.0.1:9092
  BROKER_PID=$(cat "$GREGOR_CLUSTER_DIR/broker-1/pid")
fi
TICKS=$(getconf CLK_TCK)

cpu() { awk -v t="$TICKS" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$BROKER_PID/stat"; }

run() { # name records size
  local name=$1 n=$2 size=$3 topic="bench-$2x$3-$RANDOM"
  bin/gregor topics create --bootstrap-server "$BOOTSTRAP" --topic "$topic" --partitions 1 >/dev/null
  local c0 c1 c2; c0=$(cpu)
  bin/gregor perf produce --bootstrap-server "$BOOTSTRAP" --topic "$topic" --records "$n" --size "$size"
  c1=$(cpu)
  bin/gregor perf consume --bootstrap-server "$BOOTSTRAP" --topic "$topic" --records "$n"
  c2=$(cpu)
  awk -v n="$n" -v a="$c0" -v b="$c1" -v c="$c2" -v name="$name" 'BEGIN {
    printf "%s: broker CPU %.2fs producing (%.2f us/record), %.2fs serving the consumer (%.2f us/record)\n\n",
      name, b-a, (b-a)*1e6/n, c-b, (c-b)*1e6/n }'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3)"
run "1M x 100 B" 1000000 100
run "200k x 1 KiB" 200000 1024
