#!/usr/bin/env bash
# Long fault-injection runs of the replication test (internal/e2e TestFaultRounds): ROUNDS rounds
# (default 100) of SIGKILL a leader, SIGKILL the controller, SIGSTOP a broker past its ZooKeeper
# session timeout, SIGTERM + restart, and cutting a broker off the network in its own network
# namespace, under an idempotent acks=all producer and a live consumer. After every round the
# shared checker must find every acknowledged record exactly once and the replicas identical.
#
#   scripts/chaos.sh [ROUNDS]
#
# Needs root (network namespaces), iproute2, ZooKeeper (scripts/test.sh installs them). A round
# takes 10-40 s; 100 rounds is about an hour. The test prints rounds survived and records checked.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-100}"
case "$ROUNDS" in ''|*[!0-9]*) echo "usage: scripts/chaos.sh [ROUNDS]" >&2; exit 2;; esac
[ "$(id -u)" -eq 0 ] || { echo "chaos.sh: needs root for network namespaces" >&2; exit 1; }
# Without -race: the long run is about the protocol under faults, and it goes 5x further.
GREGOR_CHAOS_ROUNDS="$ROUNDS" exec go test -count=1 -timeout "$((ROUNDS * 2 + 10))m" \
  -run '^TestFaultRounds$' -v ./internal/e2e/
