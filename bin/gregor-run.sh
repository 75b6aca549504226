#!/usr/bin/env bash
# Runs one command of the gregor binary; every bin/kafka-*.sh launcher calls this, as Kafka's
# scripts call kafka-run-class.sh.
#
# Which binary: $GREGOR_BIN if set; else, with a Go toolchain, one built from this working tree
# into $GREGOR_TOOLS_CACHE (default ~/.cache/gregor; `go build` relinks only when a source
# changed, so it is current and takes a fraction of a second when nothing did); else
# bin/gregor (scripts/cluster.sh builds it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${GREGOR_BIN:-}" ]; then
  exec "$GREGOR_BIN" "$@"
fi
if command -v go >/dev/null 2>&1 && [ -f "$root/go.mod" ]; then
  cache="${GREGOR_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gregor}"
  mkdir -p "$cache"
  (cd "$root" && go build -o "$cache/gregor" ./cmd/gregor) || { echo "gregor-run.sh: go build failed" >&2; exit 1; }
  exec "$cache/gregor" "$@"
fi
if [ -x "$root/bin/gregor" ]; then
  exec "$root/bin/gregor" "$@"
fi
echo "gregor-run.sh: no Go toolchain to build cmd/gregor and no bin/gregor (run scripts/cluster.sh up, or set GREGOR_BIN)" >&2
exit 1
