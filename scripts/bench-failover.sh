#!/usr/bin/env bash
# Benchmark (not a test): controller failover time against partition count. For each size
# (default 1000 3000 10000; add 100000 if the machine holds it), 3 brokers with that many
# partitions of replication factor 3; SIGKILL the controller and print the time from its
# ZooKeeper session's expiry to (a) a new controller, (b) every partition led by a live broker in
# ZooKeeper, (c) every live broker's Metadata current. Goal: (c) under 1 s at 10 000 partitions
# and under 10 s at 100 000. Each size is GREGOR_FAILOVER_ROUNDS failovers (default 5) on one
# cluster, each round's times and their medians printed.
#
#   [GREGOR_FAILOVER_ROUNDS=N] scripts/bench-failover.sh [SIZE ...]
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ "${#sizes[@]}" -gt 0 ] || sizes=(1000 3000 10000)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3), RLIMIT_NOFILE $(ulimit -n)"
for n in "${sizes[@]}"; do
  GREGOR_FAILOVER_PARTITIONS="$n" go test -run '^$' -bench '^BenchmarkControllerFailover$' -benchtime 1x \
    -timeout 120m ./internal/e2e/ 2>/dev/null | grep -E 'new controller|CPU from|ms-to-' | sed "s/^/$n partitions: /"
done
